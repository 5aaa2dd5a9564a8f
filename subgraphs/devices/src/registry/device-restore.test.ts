import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestRestore, type OutboxEvent, type RestoreRequest } from '@fleet/outbox';
import { decodeKey, generateKey } from '@fleet/request-signing';
import { startSimulator, type InventoryEntry, type Simulator } from '@fleet/routeros-sim';
import {
  ANONYMOUS,
  createLogger,
  encodePrincipal,
  loadConfig,
  signedPost,
  type Engine,
  type Principal,
  type StartedService,
} from '@fleet/service-kit';
import { startAuditIngest, type AuditIngest } from '../../../../test/support/audit-ingest.js';
import { createServiceDatabases, postgresSuiteEnabled } from '../../../../test/support/postgres.js';
import { signedPostTo } from '../../../../test/support/service-under-test.js';
import { eventually } from '../../../../test/support/test-federation.js';
import { testPki } from '../../../../test/support/test-pki.js';
import { devicesConfigSpec } from '../config.js';
import { startDevices } from '../devices-service.js';

const pki = await testPki();

/**
 * The devices service, started on its own as it runs in production (its own database, its
 * outbox shipping to a stand-in for audit's ingest), called as the gateway calls it and as audit
 * calls it: `updateDevice`, and audit's signed `POST /restore` of a device.
 */

const tenantA = randomUUID();
const tenantB = randomUUID();

function user(tenantId: string, scopes: string[]): Principal & { kind: 'user' } {
  return { kind: 'user', userId: randomUUID(), tenantId, roles: [], scopes, sessionId: randomUUID() };
}

const operatorA = user(tenantA, ['tenant:read', 'devices:read', 'devices:write']);
const viewerA = user(tenantA, ['tenant:read', 'devices:read']);
const operatorB = user(tenantB, ['tenant:read', 'devices:read', 'devices:write']);

interface GraphQLAnswer<T> {
  data?: T | null;
  errors?: { message: string; extensions?: { code?: string; field?: string } }[];
}

interface DeviceView {
  id: string;
  name: string;
  site: string | null;
  tags: string[];
  host: string;
  port: number;
}

const DEVICE_FIELDS = 'id name site tags host port';

const engines: { engine: Engine; enabled: boolean }[] = [
  { engine: 'pglite', enabled: true },
  { engine: 'postgres', enabled: await postgresSuiteEnabled() },
];

describe.each(engines)('devices on $engine', ({ engine, enabled }) => {
  describe.skipIf(!enabled)('updateDevice and restores', () => {
    let dir: string;
    let routers: Simulator;
    let router: InventoryEntry;
    let ingest: AuditIngest;
    let service: StartedService;
    let dropDatabase: (() => Promise<void>) | undefined;
    let baseUrl: string;
    const gatewayKey = decodeKey(generateKey()) as Buffer;
    const auditKey = decodeKey(generateKey()) as Buffer;

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'devices-restore-'));
      routers = await startSimulator({ routers: 1 });
      router = routers.inventory()[0]!;
      ingest = await startAuditIngest('devices', auditKey);
      let databaseUrl: string | undefined;
      if (engine === 'postgres') {
        const created = await createServiceDatabases(['devices']);
        databaseUrl = created.databases.devices.url;
        dropDatabase = created.drop;
      }
      const config = loadConfig(devicesConfigSpec, 'DEVICES_', {
        DEVICES_PORT: '0',
        DEVICES_DATA_DIR: dir,
        ...(databaseUrl ? { DEVICES_DATABASE_URL: databaseUrl } : {}),
        DEVICES_KEY_GATEWAY: gatewayKey.toString('base64url'),
        DEVICES_KEY_AUDIT: auditKey.toString('base64url'),
        DEVICES_KEY_BILLING: generateKey(),
        DEVICES_AUDIT_URL: ingest.url,
        DEVICES_OUTBOX_MAX_BACKOFF_MS: '500',
        DEVICES_ROUTER_NETWORKS: '127.0.0.0/8',
        DEVICES_LOG_LEVEL: 'silent',
        ...pki.env('devices'),
      });
      service = await startDevices(config, createLogger({ service: 'devices', level: 'silent' }));
      baseUrl = `https://127.0.0.1:${service.port}`;
    });

    afterAll(async () => {
      await service?.stop();
      await ingest?.close();
      await dropDatabase?.();
      await routers?.close();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    /** A GraphQL call as the gateway makes it, on the principal's behalf. */
    async function graphql<T>(
      principal: Principal,
      query: string,
      variables: Record<string, unknown> = {},
    ): Promise<GraphQLAnswer<T>> {
      const response = await signedPost({
        caller: 'gateway',
        audience: 'devices',
        key: gatewayKey,
        baseUrl,
        tls: pki.tls('gateway'),
        path: '/graphql',
        body: JSON.stringify({ query, variables }),
        principal: encodePrincipal(principal),
      });
      return (await response.json()) as GraphQLAnswer<T>;
    }

    /** Enrolls the simulated router under a new name; answers the device's id. */
    async function enroll(
      tenantId: string,
      name: string,
      extra: { site?: string; tags?: string[] } = {},
    ): Promise<string> {
      const principal = tenantId === tenantA ? operatorA : operatorB;
      const created = await graphql<{ createDevice: { id: string } }>(
        principal,
        'mutation($input: CreateDeviceInput!) { createDevice(input: $input) { id } }',
        {
          input: {
            tenantId,
            name,
            host: router.host,
            port: router.tlsPort,
            username: router.username,
            password: router.password,
            tls: { mode: 'PINNED', fingerprint: router.fingerprint256 },
            ...extra,
          },
        },
      );
      if (!created.data) throw new Error(`could not enroll ${name}: ${JSON.stringify(created.errors)}`);
      return created.data.createDevice.id;
    }

    async function deviceOf(id: string): Promise<DeviceView | null> {
      const read = await graphql<{ device: DeviceView | null }>(
        operatorA,
        `query($id: ID!) { device(id: $id) { ${DEVICE_FIELDS} } }`,
        { id },
      );
      expect(read.errors).toBeUndefined();
      return read.data!.device;
    }

    function update(principal: Principal, id: string, input: Record<string, unknown>) {
      return graphql<{ updateDevice: DeviceView }>(
        principal,
        `mutation($id: ID!, $input: UpdateDeviceInput!) { updateDevice(id: $id, input: $input) { ${DEVICE_FIELDS} } }`,
        { id, input },
      );
    }

    /** The device's events audit has received, once there are `count` of them, in order. */
    function eventsOf(id: string, count: number): Promise<OutboxEvent[]> {
      return eventually(() => {
        const events = ingest.events
          .filter((event) => event.aggregateType === 'device' && event.aggregateId === id)
          .sort((a, b) => a.sequence - b.sequence);
        return events.length >= count ? events : undefined;
      });
    }

    /** The restore of a device to the state one of its events recorded, as audit would ask it. */
    function restoreTo(event: OutboxEvent, state: Record<string, unknown> = event.payload): RestoreRequest {
      return {
        aggregateType: 'device',
        aggregateId: event.aggregateId,
        state,
        asOf: event.occurredAt,
        sequence: event.sequence,
      };
    }

    function restore(principal: Principal, request: RestoreRequest) {
      return requestRestore({
        owner: 'devices',
        ownerUrl: baseUrl,
        key: auditKey,
        tls: pki.tls('audit'),
        principal,
        restore: request,
      });
    }

    describe('updateDevice', () => {
      it('renames a device and changes its site and tags, with a device.updated event of its full state', async () => {
        const id = await enroll(tenantA, 'edge-1', { site: 'Lyon', tags: ['core'] });
        const updated = await update(operatorA, id, {
          name: ' edge-1b ',
          site: 'Paris',
          tags: ['Edge', 'wan'],
        });
        expect(updated.errors).toBeUndefined();
        expect(updated.data!.updateDevice).toEqual({
          id,
          name: 'edge-1b',
          site: 'Paris',
          tags: ['edge', 'wan'],
          host: router.host,
          port: router.tlsPort,
        });
        const [created, changed] = await eventsOf(id, 2);
        expect(changed).toMatchObject({
          source: 'devices',
          type: 'device.updated',
          sequence: 2,
          tenantId: tenantA,
          actor: { kind: 'user', id: operatorA.userId },
        });
        // The full state: what changed, and everything else as it was.
        expect(changed!.payload).toEqual({
          ...created!.payload,
          name: 'edge-1b',
          site: 'Paris',
          tags: ['edge', 'wan'],
        });
      });

      it('leaves out what it is not given, and clears the site and tags on null', async () => {
        const id = await enroll(tenantA, 'edge-2', { site: 'Lyon', tags: ['core'] });
        expect((await update(operatorA, id, { tags: ['b', 'a'] })).data!.updateDevice).toMatchObject({
          name: 'edge-2',
          site: 'Lyon',
          tags: ['a', 'b'],
        });
        expect((await update(operatorA, id, { site: null, tags: null })).data!.updateDevice).toMatchObject({
          name: 'edge-2',
          site: null,
          tags: [],
        });
      });

      it('refuses a name another device of the tenant has, and changes nothing', async () => {
        await enroll(tenantA, 'taken');
        const id = await enroll(tenantA, 'edge-3', { site: 'Lyon' });
        const refused = await update(operatorA, id, { name: 'taken', site: 'Paris' });
        expect(refused.errors?.[0]).toMatchObject({
          message: 'A device named "taken" exists already in this tenant',
          extensions: { code: 'CONFLICT' },
        });
        expect(await deviceOf(id)).toMatchObject({ name: 'edge-3', site: 'Lyon' });
        // Another tenant's names are its own.
        const inB = await enroll(tenantB, 'edge-3b');
        expect((await update(operatorB, inB, { name: 'taken' })).data?.updateDevice.name).toBe('taken');
      });

      it('checks every field as createDevice does, and changes nothing when one is bad', async () => {
        const id = await enroll(tenantA, 'edge-4');
        const cases: [Record<string, unknown>, string][] = [
          [{ name: 'x'.repeat(65) }, 'name must be 1 to 64 printable characters'],
          [{ name: 'bad\u0007name' }, 'name must be 1 to 64 printable characters'],
          [{ name: null }, 'name cannot be removed, only changed'],
          [{ site: '' }, 'site must be 1 to 64 printable characters'],
          [{ site: 'Paris', tags: ['no spaces'] }, 'each tag is 1 to 32 letters'],
          [{}, 'Give at least one of name, site and tags to change'],
        ];
        for (const [input, message] of cases) {
          const refused = await update(operatorA, id, input);
          expect(refused.errors?.[0]?.extensions?.code, JSON.stringify(input)).toBe('BAD_USER_INPUT');
          expect(refused.errors?.[0]?.message).toContain(message);
        }
        expect(await deviceOf(id)).toMatchObject({ name: 'edge-4', site: null, tags: [] });
        // Nothing was recorded: the next change is the device's second.
        await update(operatorA, id, { site: 'Lyon' });
        const events = await eventsOf(id, 2);
        expect(events.map((event) => [event.sequence, event.type])).toEqual([
          [1, 'device.created'],
          [2, 'device.updated'],
        ]);
      });

      it("answers another tenant's device, or a device the principal may only read, as unknown", async () => {
        const id = await enroll(tenantA, 'edge-5');
        for (const principal of [operatorB, viewerA]) {
          const refused = await update(principal, id, { name: 'stolen' });
          expect(refused.errors?.[0]).toMatchObject({
            message: 'Device not found',
            extensions: { code: 'NOT_FOUND' },
          });
        }
        expect((await deviceOf(id))!.name).toBe('edge-5');
      });
    });

    describe('POST /restore', () => {
      it('brings back name, site and tags as a new device.restored change, and nothing else', async () => {
        const id = await enroll(tenantA, 'core-1', { site: 'Lyon', tags: ['core'] });
        await update(operatorA, id, { name: 'core-1-renamed', site: 'Paris', tags: ['wan'] });
        const [created] = await eventsOf(id, 2);
        // The recorded state, with connection settings that differ from today's: they stay.
        const state = { ...created!.payload, host: '10.9.9.9', port: 1234, tlsMode: 'anonymous-dh' };
        const answer = await restore(operatorA, restoreTo(created!, state));
        expect(answer.ok, JSON.stringify(answer)).toBe(true);
        if (!answer.ok) return;
        expect(answer.result.state).toMatchObject({
          id,
          tenantId: tenantA,
          name: 'core-1',
          site: 'Lyon',
          tags: ['core'],
          host: router.host,
          port: router.tlsPort,
          tlsMode: 'pinned',
        });
        expect(await deviceOf(id)).toEqual({
          id,
          name: 'core-1',
          site: 'Lyon',
          tags: ['core'],
          host: router.host,
          port: router.tlsPort,
        });
        const recorded = await ingest.event(answer.result.eventId);
        expect(recorded).toMatchObject({
          source: 'devices',
          aggregateType: 'device',
          aggregateId: id,
          sequence: 3,
          type: 'device.restored',
          tenantId: tenantA,
          actor: { kind: 'user', id: operatorA.userId },
        });
        expect(recorded.payload).toEqual(answer.result.state);
        // History is kept: the change it undid is still there.
        expect((await eventsOf(id, 3)).map((event) => event.type)).toEqual([
          'device.created',
          'device.updated',
          'device.restored',
        ]);
      });

      it('accepts only audit, signed with the audit/devices key', async () => {
        const id = await enroll(tenantA, 'core-2');
        const [created] = await eventsOf(id, 1);
        const body = JSON.stringify(restoreTo(created!, { ...created!.payload, name: 'core-2-forged' }));
        const attempts = [
          { caller: 'audit', audience: 'devices', key: decodeKey(generateKey()) as Buffer },
          { caller: 'audit', audience: 'devices', key: gatewayKey },
          { caller: 'gateway', audience: 'devices', key: gatewayKey },
          { caller: 'gateway', audience: 'devices', key: auditKey },
          { caller: 'devices', audience: 'devices', key: auditKey },
          { caller: 'audit', audience: 'billing', key: auditKey },
        ];
        for (const attempt of attempts) {
          // Over audit's connection, the one /restore takes: what is tested is the signature.
          const response = await signedPostTo('devices', pki.tls('audit'), {
            ...attempt,
            baseUrl,
            path: '/restore',
            body,
            principal: encodePrincipal(operatorA),
          });
          expect(response.status, JSON.stringify(attempt)).toBe(401);
          await response.body?.cancel();
        }
        const unsigned = await fetch(`${baseUrl}/restore`, {
          dispatcher: pki.tls('audit').dispatcher('devices'),
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
        });
        expect(unsigned.status).toBe(401);
        expect((await deviceOf(id))!.name).toBe('core-2');
      });

      it('needs devices:write in the device tenant: anyone else finds no device, and nothing changes', async () => {
        const id = await enroll(tenantA, 'core-3');
        await update(operatorA, id, { name: 'core-3-renamed' });
        const [created] = await eventsOf(id, 2);
        for (const principal of [viewerA, operatorB, ANONYMOUS]) {
          const answer = await restore(principal, restoreTo(created!));
          expect(answer).toEqual({ ok: false, status: 404, code: 'NOT_FOUND', message: 'Device not found' });
        }
        expect((await deviceOf(id))!.name).toBe('core-3-renamed');
      });

      it('refuses a bad state with a message naming the problem, and changes nothing', async () => {
        const id = await enroll(tenantA, 'core-4', { site: 'Lyon' });
        const other = await enroll(tenantA, 'core-4-other');
        const [created] = await eventsOf(id, 1);
        const [otherCreated] = await eventsOf(other, 1);
        const cases: [Record<string, unknown>, string][] = [
          [
            { ...created!.payload, name: 'x'.repeat(65) },
            'The state to restore is invalid: name must be 1 to 64',
          ],
          [{ ...created!.payload, name: 42 }, 'The state to restore is invalid: name must be a string'],
          [
            { ...created!.payload, tags: ['not a tag'] },
            'The state to restore is invalid: each tag is 1 to 32',
          ],
          [{ ...created!.payload, site: { city: 'Lyon' } }, 'site must be a string or null'],
          [otherCreated!.payload, 'The state to restore is of another device'],
          [{ ...created!.payload, tenantId: tenantB }, 'The state to restore is of another tenant'],
        ];
        for (const [state, message] of cases) {
          const answer = await restore(operatorA, restoreTo(created!, state));
          expect(answer, JSON.stringify(state)).toMatchObject({
            ok: false,
            status: 400,
            code: 'BAD_USER_INPUT',
          });
          expect(!answer.ok && answer.message).toContain(message);
        }
        const beyond = await restore(operatorA, { ...restoreTo(created!), sequence: 7 });
        expect(beyond).toMatchObject({
          status: 400,
          message: "sequence 7 is beyond this device's history (its last change is 1)",
        });
        expect(await deviceOf(id)).toMatchObject({ name: 'core-4', site: 'Lyon' });
        // Nothing was recorded: the next change is the device's second.
        const answer = await restore(operatorA, restoreTo(created!));
        expect(answer.ok && (await ingest.event(answer.result.eventId)).sequence).toBe(2);
      });

      it('refuses a malformed body, and an entity type devices does not own', async () => {
        const id = await enroll(tenantA, 'core-5');
        const [created] = await eventsOf(id, 1);
        const answers = await Promise.all([
          restore(operatorA, { ...restoreTo(created!), aggregateType: 'subscription' }),
          restore(operatorA, { ...restoreTo(created!), sequence: 0 }),
          restore(operatorA, { ...restoreTo(created!), asOf: 'yesterday' }),
          restore(operatorA, { ...restoreTo(created!), state: [] as unknown as Record<string, unknown> }),
        ]);
        expect(answers.map((answer) => !answer.ok && [answer.status, answer.code, answer.message])).toEqual([
          [400, 'BAD_USER_INPUT', 'This service restores no entity of type "subscription" (only: device)'],
          [
            400,
            'BAD_USER_INPUT',
            'sequence must be a whole number from 1: the sequence of the event the state comes from',
          ],
          [400, 'BAD_USER_INPUT', 'asOf must be an ISO 8601 date and time, e.g. 2026-01-31T12:00:00Z'],
          [400, 'BAD_USER_INPUT', 'state must be a JSON object: the state to restore'],
        ]);
        const response = await signedPost({
          caller: 'audit',
          audience: 'devices',
          key: auditKey,
          baseUrl,
          tls: pki.tls('audit'),
          path: '/restore',
          body: '{"aggregateType":',
          principal: encodePrincipal(operatorA),
        });
        expect(response.status).toBe(400);
        expect(await response.json()).toEqual({
          errors: [{ message: 'Malformed JSON in request body', extensions: { code: 'BAD_USER_INPUT' } }],
        });
      });

      it('refuses a removed device, which must be enrolled again', async () => {
        const id = await enroll(tenantA, 'core-6');
        const removed = await graphql<{ removeDevice: boolean }>(
          operatorA,
          'mutation($id: ID!) { removeDevice(id: $id) }',
          { id },
        );
        expect(removed.data?.removeDevice).toBe(true);
        const [created] = await eventsOf(id, 2);
        expect(await restore(operatorA, restoreTo(created!))).toEqual({
          ok: false,
          status: 409,
          code: 'CONFLICT',
          message: 'This device was removed, and its credentials with it: enroll it again instead',
        });
        // Whoever may not write in its tenant learns nothing of it.
        expect(await restore(operatorB, restoreTo(created!))).toMatchObject({
          status: 404,
          code: 'NOT_FOUND',
        });
        expect(await deviceOf(id)).toBeNull();
        // An id that never was a device is simply unknown.
        expect(await restore(operatorA, { ...restoreTo(created!), aggregateId: randomUUID() })).toMatchObject(
          {
            status: 404,
          },
        );
      });

      it("refuses a name another device has taken since, and another tenant's device is unknown", async () => {
        const id = await enroll(tenantA, 'core-7');
        await update(operatorA, id, { name: 'core-7-renamed' });
        await enroll(tenantA, 'core-7');
        const [created] = await eventsOf(id, 2);
        expect(await restore(operatorA, restoreTo(created!))).toEqual({
          ok: false,
          status: 409,
          code: 'CONFLICT',
          message: 'A device named "core-7" exists already in this tenant',
        });
        expect((await deviceOf(id))!.name).toBe('core-7-renamed');
        const inB = await enroll(tenantB, 'core-7-b');
        const [createdInB] = await eventsOf(inB, 1);
        expect(await restore(operatorA, restoreTo(createdInB!))).toMatchObject({
          status: 404,
          code: 'NOT_FOUND',
        });
      });
    });
  });
});
