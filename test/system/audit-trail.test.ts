import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMember, bearer, signIn } from '../support/identities.js';
import { enrollRouter, startRouters, type Simulator } from '../support/routers.js';
import {
  createTenant,
  engineMatrix,
  eventually,
  startTestFederation,
  type GraphQLResult,
  type TestFederation,
} from '../support/test-federation.js';

const run = promisify(execFile);
const VERIFY_CLI = new URL('../../packages/audit-chain/dist/verify-export-cli.js', import.meta.url).pathname;

const HISTORY = `query($type: String!, $id: ID!) {
  entityHistory(entityType: $type, entityId: $id, first: 50) { edges { node { id type sequence payload } } }
}`;
const AT = `query($type: String!, $id: ID!, $asOf: String!) {
  entityAt(entityType: $type, entityId: $id, asOf: $asOf) { exists sequence state tenantId event { type } }
}`;
const DIFF = `query($type: String!, $id: ID!, $from: String!, $to: String!) {
  entityDiff(entityType: $type, entityId: $id, from: $from, to: $to) { changes { path before after } }
}`;
const RESTORE = `mutation($type: String!, $id: ID!, $asOf: String!) {
  restoreEntity(entityType: $type, entityId: $id, asOf: $asOf) {
    entityType entityId tenantId asOf restoredFromSequence eventId state
  }
}`;

interface HistoryEvent {
  id: string;
  type: string;
  sequence: number;
  payload: Record<string, unknown>;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The audit trail through the gateway, on both engines: a device's and a tenant subscription's
 * state at any moment, and their restore, which the owning service makes as a new change with an
 * event of its own; who may restore and what; a tenant's auditors held to their tenant, and an
 * export that verifies offline with nothing but the published public key.
 */
describe.each(await engineMatrix())('the audit trail on $engine', ({ engine, enabled }) => {
  let fleet: TestFederation;
  let routers: Simulator;
  let tenantId: string;
  let otherTenantId: string;
  let owner: Record<string, string>;
  let operator: Record<string, string>;
  let auditor: Record<string, string>;
  let otherOwner: Record<string, string>;

  const as = <T>(headers: Record<string, string>, query: string, variables: Record<string, unknown> = {}) =>
    fleet.graphql<T>(query, variables, headers);
  const history = async (type: string, id: string): Promise<HistoryEvent[]> => {
    const result = await as<{ entityHistory: { edges: { node: HistoryEvent }[] } }>(owner, HISTORY, {
      type,
      id,
    });
    if (!result.data) throw new Error(JSON.stringify(result.errors));
    return result.data.entityHistory.edges.map((edge) => edge.node);
  };
  /** The entity's history once it holds `count` events (they reach audit through the outboxes). */
  const historyOf = (type: string, id: string, count: number) =>
    eventually(async () => {
      const events = await history(type, id);
      return events.length >= count ? events : undefined;
    });
  /** A moment strictly between the events before and after it. */
  const moment = async () => {
    await pause(50);
    const at = new Date().toISOString();
    await pause(50);
    return at;
  };
  const expectCode = (result: GraphQLResult<unknown>, code: string) => {
    expect(result.errors?.[0]?.extensions?.code, JSON.stringify(result.errors)).toBe(code);
  };

  beforeAll(async () => {
    if (!enabled) return;
    routers = await startRouters(2);
    fleet = await startTestFederation({ engine });
    tenantId = await createTenant(fleet, 'Restore Works', 'restore-works');
    otherTenantId = await createTenant(fleet, 'Elsewhere Ltd', 'elsewhere');
    const tenant = { id: tenantId, slug: 'restore-works' };
    const person = async (t: { id: string; slug: string }, email: string, roles: string[]) =>
      bearer((await signIn(fleet, await addMember(fleet, t, { email, fullName: email, roles }))).accessToken);
    owner = await person(tenant, 'owner@restore.example', ['owner']);
    operator = await person(tenant, 'operator@restore.example', ['operator']);
    auditor = await person(tenant, 'auditor@restore.example', ['auditor']);
    otherOwner = await person({ id: otherTenantId, slug: 'elsewhere' }, 'owner@elsewhere.example', ['owner']);
  });

  afterAll(async () => {
    await fleet?.destroy();
    await routers?.close();
  });

  it.runIf(enabled)(
    'shows a device as it was at any moment, and brings it back as a new change',
    async () => {
      const deviceId = await enrollRouter(fleet, tenantId, routers.inventory()[0]!, 'edge-1');
      await historyOf('device', deviceId, 1);
      const beforeUpdate = await moment();
      const updated = await as(
        owner,
        'mutation($id: ID!, $input: UpdateDeviceInput!) { updateDevice(id: $id, input: $input) { name } }',
        {
          id: deviceId,
          input: { name: 'edge-renamed', site: 'lab', tags: ['moved'] },
        },
      );
      expect(updated.errors).toBeUndefined();
      await historyOf('device', deviceId, 2);
      const afterUpdate = await moment();

      const at = async (asOf: string) =>
        (
          await as<{
            entityAt: { exists: boolean; sequence: number; state: Record<string, unknown>; tenantId: string };
          }>(auditor, AT, { type: 'device', id: deviceId, asOf })
        ).data!.entityAt;
      expect(await at(beforeUpdate)).toMatchObject({
        exists: true,
        sequence: 1,
        tenantId,
        state: { name: 'edge-1', site: null, tags: [] },
      });
      expect(await at(afterUpdate)).toMatchObject({
        sequence: 2,
        state: { name: 'edge-renamed', site: 'lab', tags: ['moved'] },
      });
      const diff = await as<{ entityDiff: { changes: { path: string; before: unknown; after: unknown }[] } }>(
        auditor,
        DIFF,
        {
          type: 'device',
          id: deviceId,
          from: beforeUpdate,
          to: afterUpdate,
        },
      );
      expect(diff.data!.entityDiff.changes).toEqual([
        { path: 'name', before: 'edge-1', after: 'edge-renamed' },
        { path: 'site', before: null, after: 'lab' },
        { path: 'tags', before: [], after: ['moved'] },
      ]);

      // Restoring needs audit:restore (the operator may change devices but not restore them), in
      // the device's own tenant.
      const variables = { type: 'device', id: deviceId, asOf: beforeUpdate };
      expectCode(await as(operator, RESTORE, variables), 'FORBIDDEN');
      expectCode(await as(otherOwner, RESTORE, variables), 'NOT_FOUND');
      expect((await history('device', deviceId)).length).toBe(2);

      const restored = await as<{ restoreEntity: Record<string, unknown> }>(owner, RESTORE, variables);
      expect(restored.errors).toBeUndefined();
      expect(restored.data!.restoreEntity).toMatchObject({
        entityType: 'device',
        entityId: deviceId,
        tenantId,
        asOf: beforeUpdate,
        restoredFromSequence: 1,
        state: { name: 'edge-1', site: null, tags: [] },
      });
      const device = await as<{ device: { name: string; site: string | null; tags: string[] } }>(
        owner,
        'query($id: ID!) { device(id: $id) { name site tags } }',
        { id: deviceId },
      );
      expect(device.data!.device).toEqual({ name: 'edge-1', site: null, tags: [] });
      // History is never rewritten: the restore is the device's third event, its owner's own.
      const events = await historyOf('device', deviceId, 3);
      expect(events.map((event) => [event.sequence, event.type])).toEqual([
        [1, 'device.created'],
        [2, 'device.updated'],
        [3, 'device.restored'],
      ]);
      expect(events[2]!.id).toBe(restored.data!.restoreEntity.eventId);
      expect(await at(new Date().toISOString())).toMatchObject({ sequence: 3, state: { name: 'edge-1' } });

      const verified = await fleet.asAdmin<{ verifyAuditLog: { ok: boolean; problem: string | null } }>(
        '{ verifyAuditLog { ok problem } }',
      );
      expect(verified.data!.verifyAuditLog).toEqual({ ok: true, problem: null });
    },
  );

  it.runIf(enabled)("restores a tenant's subscription to the plan it had", async () => {
    const change = (planId: string) =>
      as(owner, 'mutation($t: ID!, $p: ID!) { changeTenantPlan(tenantId: $t, planId: $p) { id } }', {
        t: tenantId,
        p: planId,
      });
    expect((await change('pro')).errors).toBeUndefined();
    await historyOf('subscription', tenantId, 1);
    const onPro = await moment();
    expect((await change('enterprise')).errors).toBeUndefined();
    await historyOf('subscription', tenantId, 2);

    const restored = await as<{
      restoreEntity: { state: Record<string, unknown>; restoredFromSequence: number };
    }>(owner, RESTORE, { type: 'subscription', id: tenantId, asOf: onPro });
    expect(restored.errors).toBeUndefined();
    expect(restored.data!.restoreEntity).toMatchObject({ restoredFromSequence: 1, state: { planId: 'pro' } });
    const plan = await as<{ tenant: { plan: { id: string } } }>(
      owner,
      'query($id: ID!) { tenant(id: $id) { plan { id } } }',
      {
        id: tenantId,
      },
    );
    expect(plan.data!.tenant.plan.id).toBe('pro');
    const events = await historyOf('subscription', tenantId, 3);
    expect(events.map((event) => event.type)).toEqual([
      'subscription.plan_changed',
      'subscription.plan_changed',
      'subscription.restored',
    ]);
    // The trial the first paid plan began keeps running on the plan restored.
    expect(events[2]!.payload).toEqual({
      tenantId,
      planId: 'pro',
      status: 'trialing',
      trialEndsAt: events[0]!.payload.trialEndsAt,
      provider: 'manual',
      previousStatus: 'trialing',
    });
  });

  it.runIf(enabled)('refuses what cannot be restored, saying why, and changes nothing', async () => {
    const deviceId = await enrollRouter(fleet, tenantId, routers.inventory()[1]!, 'short-lived');
    await historyOf('device', deviceId, 1);
    const beforeAnything = '2000-01-01T00:00:00Z';
    const whileThere = await moment();
    expect(
      (await as(owner, 'mutation($id: ID!) { removeDevice(id: $id) }', { id: deviceId })).errors,
    ).toBeUndefined();
    await historyOf('device', deviceId, 2);

    const removed = await as(owner, RESTORE, { type: 'device', id: deviceId, asOf: whileThere });
    expectCode(removed, 'CONFLICT');
    expect(removed.errors![0]!.message).toMatch(/enroll it again/);
    expectCode(await as(owner, RESTORE, { type: 'device', id: deviceId, asOf: beforeAnything }), 'NOT_FOUND');
    expectCode(
      await as(owner, RESTORE, { type: 'device', id: deviceId, asOf: 'yesterday' }),
      'BAD_USER_INPUT',
    );
    // aaa's entities hold personal data that lives in aaa alone: changed through aaa only.
    const tenantRestore = await as(owner, RESTORE, {
      type: 'tenant',
      id: tenantId,
      asOf: new Date().toISOString(),
    });
    expectCode(tenantRestore, 'BAD_USER_INPUT');
    expect(tenantRestore.errors![0]!.message).toBe('Entities of aaa cannot be restored from the audit log');
    expect((await history('device', deviceId)).map((event) => event.type)).toEqual([
      'device.created',
      'device.removed',
    ]);
  });

  it.runIf(enabled)(
    "holds a tenant's auditors to their tenant, and its export verifies offline with the public key",
    async () => {
      await enrollRouter(fleet, otherTenantId, routers.inventory()[0]!, 'theirs');
      const list = await as<{ auditEvents: { edges: { node: { tenantId: string } }[] } }>(
        auditor,
        '{ auditEvents(first: 200) { edges { node { tenantId } } } }',
      );
      expect(list.data!.auditEvents.edges.length).toBeGreaterThan(0);
      expect(new Set(list.data!.auditEvents.edges.map((edge) => edge.node.tenantId))).toEqual(
        new Set([tenantId]),
      );
      expectCode(
        await as(auditor, 'query($t: ID!) { auditEvents(filter: { tenantId: $t }) { edges { cursor } } }', {
          t: otherTenantId,
        }),
        'FORBIDDEN',
      );

      const exported = await as<{ auditExport: { tenantId: string; ndjson: string } }>(
        auditor,
        '{ auditExport { tenantId ndjson } }',
      );
      expect(exported.data!.auditExport.tenantId).toBe(tenantId);
      const { ndjson } = exported.data!.auditExport;
      expect(ndjson).toContain(tenantId);
      expect(ndjson).not.toContain(otherTenantId);
      const keys = await as<{ auditSigningKeys: { publicKeyPem: string; current: boolean }[] }>(
        auditor,
        '{ auditSigningKeys { publicKeyPem current } }',
      );
      const keyFile = join(fleet.dataDir, 'audit-public-key.pem');
      const exportFile = join(fleet.dataDir, 'audit-export.ndjson');
      await writeFile(keyFile, keys.data!.auditSigningKeys.find((key) => key.current)!.publicKeyPem);
      await writeFile(exportFile, ndjson);
      const verified = await run(process.execPath, [VERIFY_CLI, '--public-key', keyFile, exportFile]);
      expect(verified.stdout).toMatch(new RegExp(`^OK: positions 1-\\d+ of tenant ${tenantId}: \\d+ events`));
      await writeFile(exportFile, ndjson.replace('"edge-1"', '"edge-9"'));
      await expect(
        run(process.execPath, [VERIFY_CLI, '--public-key', keyFile, exportFile]),
      ).rejects.toMatchObject({
        code: 1,
        stdout: expect.stringMatching(
          /^BROKEN at line \d+ \(position \d+\): the event does not match its hash/,
        ),
      });
    },
  );
});
