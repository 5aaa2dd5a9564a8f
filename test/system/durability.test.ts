import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allAuditEvents } from '../support/audit-events.js';
import { ADMIN_URL } from '../support/postgres.js';
import {
  choosePlan,
  createTenant,
  engineMatrix,
  eventually,
  startTestFederation,
  type TestFederation,
} from '../support/test-federation.js';
import { reach, startRouters, type Simulator } from '../support/routers.js';

interface AuditEvent {
  id: string;
  type: string;
  aggregateId: string;
  sequence: number;
}

const SUBGRAPHS = ['aaa', 'devices', 'billing', 'audit'] as const;
const OWN_TABLES = {
  aaa: ['tenant', 'app_user'],
  devices: ['device'],
  billing: ['plan', 'subscription', 'plan_segment'],
  audit: ['audit_event', 'chain_head'],
} as const;

describe.each(await engineMatrix())('durability on $engine', ({ engine, enabled }) => {
  let fleet: TestFederation;
  let tenantId: string;
  let routers: Simulator;

  beforeAll(async () => {
    if (!enabled) return;
    routers = await startRouters(1);
    fleet = await startTestFederation({ engine });
    tenantId = await createTenant(fleet, 'Durable', 'durable');
    // More devices than the free plan allows.
    await choosePlan(fleet, tenantId, 'pro');
    // Its event is in audit before audit is stopped: the count below is of what comes after.
    await eventually(async () =>
      (await allAuditEvents(fleet)).some(
        (event) => event.type === 'subscription.plan_changed' && event.aggregateId === tenantId,
      )
        ? true
        : undefined,
    );
  });

  afterAll(async () => {
    await fleet?.destroy();
    await routers?.close();
  });

  const allEvents = async (): Promise<AuditEvent[]> =>
    (await allAuditEvents(fleet)).map(({ id, type, aggregateId, sequence }) => ({
      id,
      type,
      aggregateId,
      sequence,
    }));

  it.runIf(enabled)('loses no event while audit is down, and records each exactly once', async () => {
    await fleet.stopService('audit');
    const deviceIds: string[] = [];
    try {
      for (let i = 0; i < 12; i++) {
        const created = await fleet.asAdmin<{ createDevice: { id: string } }>(
          'mutation($input: CreateDeviceInput!) { createDevice(input: $input) { id } }',
          { input: { tenantId, name: `offline-${i}`, ...reach(routers.inventory()[0]!) } },
        );
        expect(created.errors).toBeUndefined();
        deviceIds.push(created.data!.createDevice.id);
      }
    } finally {
      await fleet.startService('audit');
    }
    const expected = [tenantId, ...deviceIds];
    // Other services' events (a session, a plan) may land at any time: only these are counted.
    const ofThese = (seen: Awaited<ReturnType<typeof allEvents>>) =>
      seen.filter((e) => expected.includes(e.aggregateId));
    const events = await eventually(async () => {
      const seen = await allEvents();
      return expected.every((id) => seen.some((e) => e.aggregateId === id)) ? seen : undefined;
    }, 30_000);
    // Give a redelivery, were one to happen, the time to arrive before counting.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const final = await allEvents();
    expect(ofThese(final)).toHaveLength(ofThese(events).length);
    for (const id of deviceIds) {
      expect(final.filter((e) => e.aggregateId === id)).toEqual([
        { id: expect.any(String), type: 'device.created', aggregateId: id, sequence: 1 },
      ]);
    }
    expect(new Set(final.map((e) => e.id)).size).toBe(final.length);
    const verified = await fleet.asAdmin<{ verifyAuditLog: { ok: boolean; checked: number } }>(
      '{ verifyAuditLog { ok checked } }',
    );
    expect(verified.data!.verifyAuditLog.ok).toBe(true);
    expect(verified.data!.verifyAuditLog.checked).toBeGreaterThanOrEqual(final.length);
  });

  it.runIf(enabled)('keeps each service’s data in its own database only', async () => {
    const tablesOf = new Map<string, string[]>();
    if (engine === 'pglite') {
      await fleet.stop();
      try {
        for (const service of SUBGRAPHS) {
          const dir = join(fleet.dataDir, service, 'pgdata');
          expect(existsSync(dir), `${service} has its own data directory`).toBe(true);
          const db = new PGlite(dir);
          const result = await db.query<{ table_name: string }>(
            "select table_name from information_schema.tables where table_schema = 'public'",
          );
          tablesOf.set(
            service,
            result.rows.map((r) => r.table_name),
          );
          await db.close();
        }
      } finally {
        for (const service of SUBGRAPHS) await fleet.startService(service);
        await fleet.startService('gateway');
      }
    } else {
      for (const service of SUBGRAPHS) {
        const client = new pg.Client({ connectionString: fleet.databases[service]!.url });
        await client.connect();
        const result = await client.query<{ table_name: string }>(
          "select table_name from information_schema.tables where table_schema = 'public'",
        );
        tablesOf.set(
          service,
          result.rows.map((r) => r.table_name),
        );
        await client.end();
      }
    }
    for (const service of SUBGRAPHS) {
      const tables = tablesOf.get(service)!;
      for (const [owner, owned] of Object.entries(OWN_TABLES)) {
        for (const table of owned) {
          if (owner === service) expect(tables, `${service} has ${table}`).toContain(table);
          else expect(tables, `${service} has no ${table}`).not.toContain(table);
        }
      }
    }
  });

  it.runIf(enabled && engine === 'postgres')(
    'gives each service a role that can reach only its own database',
    async () => {
      const devicesRole = fleet.databases.devices!;
      const aaaDatabase = fleet.databases.aaa!.database;
      const url = new URL(devicesRole.url);
      url.pathname = `/${aaaDatabase}`;
      const client = new pg.Client({ connectionString: url.toString() });
      await expect(client.connect()).rejects.toThrow(/permission denied/);
      await client.end().catch(() => undefined);
      expect(new Set(SUBGRAPHS.map((s) => fleet.databases[s]!.role)).size).toBe(4);
      expect(ADMIN_URL).not.toContain(devicesRole.role);
    },
  );

  it.runIf(enabled)('keeps its data across a restart of every process', async () => {
    await fleet.stop();
    for (const service of SUBGRAPHS) await fleet.startService(service);
    await fleet.startService('gateway');
    const result = await fleet.asAdmin<{ tenant: { name: string; devices: unknown[] } }>(
      'query($t: ID!) { tenant(id: $t) { name devices { name } } }',
      { t: tenantId },
    );
    expect(result.data!.tenant.name).toBe('Durable');
    expect(result.data!.tenant.devices).toHaveLength(12);
  });
});
