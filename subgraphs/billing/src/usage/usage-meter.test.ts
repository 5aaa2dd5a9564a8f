import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, type Engine } from '@fleet/service-kit';
import { deviceEvent } from '../../../../test/support/audit-database.js';
import { startAuditUnderTest, type AuditUnderTest } from '../../../../test/support/audit-service.js';
import {
  openBillingTestDatabase,
  type BillingTestDatabase,
} from '../../../../test/support/billing-database.js';
import { postgresSuiteEnabled } from '../../../../test/support/postgres.js';
import { testPki } from '../../../../test/support/test-pki.js';
import { auditFeed } from './audit-feed.js';
import { DEVICE_FEED, UsageMeter } from './usage-meter.js';

const pki = await testPki();

/**
 * Metering device-days from a real audit service's feed over HTTP, into a real billing
 * database: each event id counts once however often it is read, and a device counts on every
 * UTC day it existed, months apart.
 */

const engines: { engine: Engine; enabled: boolean }[] = [
  { engine: 'pglite', enabled: true },
  { engine: 'postgres', enabled: await postgresSuiteEnabled() },
];

const logger = createLogger({ service: 'test', level: 'silent' });

describe.each(engines)('usage metering on $engine', ({ engine, enabled }) => {
  let audit: AuditUnderTest;
  let billing: BillingTestDatabase;
  const clock = new Date('2026-04-15T12:00:00Z');

  const meter = (key?: Buffer) =>
    new UsageMeter({
      db: billing.database.db,
      feed: auditFeed({
        auditUrl: audit.baseUrl,
        key: key ?? audit.keys.billing,
        tls: pki.tls('billing'),
        ...DEVICE_FEED,
      }),
      logger,
      now: () => clock,
    });

  const presence = (tenantId: string) =>
    billing.database.db
      .selectFrom('device_presence')
      .select(['device_id', 'present_from', 'present_until'])
      .where('tenant_id', '=', tenantId)
      .orderBy('device_id')
      .execute();

  const created = (tenantId: string, deviceId: string, at: string) =>
    deviceEvent({ tenantId, aggregateId: deviceId, occurredAt: at, type: 'device.created' });
  const removed = (tenantId: string, deviceId: string, at: string) =>
    deviceEvent({ tenantId, aggregateId: deviceId, occurredAt: at, type: 'device.removed', sequence: 2 });

  beforeAll(async () => {
    if (!enabled) return;
    audit = await startAuditUnderTest(engine);
    billing = await openBillingTestDatabase(engine);
  });
  afterAll(async () => {
    await audit?.stop();
    await billing?.close();
  });

  it.runIf(enabled)(
    'counts each device on every UTC day it existed, across a month boundary, and devices now',
    async () => {
      const tenant = randomUUID();
      const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
      await audit.ingest('devices', [
        created(tenant, a, '2026-03-30T22:00:00Z'),
        created(tenant, b, '2026-03-31T23:59:00Z'),
        // Another entity type's events and other types are not metered.
        deviceEvent({ tenantId: tenant, aggregateId: a, type: 'device.updated', sequence: 2 }),
      ]);
      await audit.ingest('devices', [
        removed(tenant, b, '2026-04-01T00:01:00Z'),
        created(tenant, c, '2026-04-10T08:00:00Z'),
        removed(tenant, c, '2026-04-10T09:00:00Z'),
      ]);
      const usage = meter();
      expect(await usage.poll()).toEqual({ metered: 5, caughtUp: true });

      // March: a on the 30th and 31st, b on the 31st.
      expect(await usage.usage(tenant, '2026-03')).toEqual({ month: '2026-03', deviceDays: 3, devices: 1 });
      // April up to the 15th (the clock): a on 15 days, b on the 1st, c on the 10th.
      expect(await usage.usage(tenant, '2026-04')).toEqual({ month: '2026-04', deviceDays: 17, devices: 1 });
      expect(await usage.usage(tenant)).toEqual({ month: '2026-04', deviceDays: 17, devices: 1 });
      expect(await usage.usage(tenant, '2026-05')).toEqual({ month: '2026-05', deviceDays: 0, devices: 1 });
      expect(await usage.usage(tenant, '2026-02')).toMatchObject({ deviceDays: 0 });
      expect(await usage.usage(randomUUID(), '2026-04')).toEqual({
        month: '2026-04',
        deviceDays: 0,
        devices: 0,
      });
      for (const month of ['2026-4', '2026-13', 'april', '0099-01'])
        await expect(usage.usage(tenant, month)).rejects.toThrow('month must be a month written YYYY-MM');
    },
  );

  it.runIf(enabled)(
    'meters nothing twice: a second poll, a cursor set back, two meters at once',
    async () => {
      const tenant = randomUUID();
      const devices = Array.from({ length: 12 }, () => randomUUID());
      await audit.ingest(
        'devices',
        devices.map((id, i) => created(tenant, id, `2026-04-${String(i + 1).padStart(2, '0')}T10:00:00Z`)),
      );
      const first = meter();
      await first.poll();
      const before = { presence: await presence(tenant), usage: await first.usage(tenant, '2026-04') };
      const metered = await billing.database.db
        .selectFrom('metered_event')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      expect(await first.poll()).toEqual({ metered: 0, caughtUp: true });

      // The cursor back to the start: every page is read again, and counts nothing.
      await billing.database.db.updateTable('usage_cursor').set({ position: 0 }).execute();
      expect(await first.poll()).toEqual({ metered: 0, caughtUp: true });
      expect(await first.cursor()).toBeGreaterThan(0);

      // Two replicas reading the same pages at once.
      await billing.database.db.updateTable('usage_cursor').set({ position: 0 }).execute();
      const results = await Promise.all([meter().poll(), meter().poll()]);
      expect(results.map((r) => r.metered)).toEqual([0, 0]);

      expect({ presence: await presence(tenant), usage: await first.usage(tenant, '2026-04') }).toEqual(
        before,
      );
      // 12 devices from the 1st to the 12th, up to the 15th: 15 + 14 + … + 4.
      expect(before.usage.deviceDays).toBe(114);
      expect(
        await billing.database.db
          .selectFrom('metered_event')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .executeTakeFirstOrThrow(),
      ).toEqual(metered);

      // New events after the replay still count.
      const late = randomUUID();
      await audit.ingest('devices', [created(tenant, late, '2026-04-15T00:00:00Z')]);
      expect(await first.poll()).toEqual({ metered: 1, caughtUp: true });
      expect((await first.usage(tenant, '2026-04')).deviceDays).toBe(115);
    },
  );

  it.runIf(enabled)('keeps a device’s interval whichever of its two events arrives first', async () => {
    const tenant = randomUUID();
    const device = randomUUID();
    // A relay replica shipped the removal before the creation.
    await audit.ingest('devices', [removed(tenant, device, '2026-04-05T12:00:00Z')]);
    const usage = meter();
    await usage.poll();
    expect((await usage.usage(tenant, '2026-04')).deviceDays).toBe(0);
    await audit.ingest('devices', [created(tenant, device, '2026-04-03T12:00:00Z')]);
    await usage.poll();
    expect(await presence(tenant)).toEqual([
      {
        device_id: device,
        present_from: new Date('2026-04-03T12:00:00Z'),
        present_until: new Date('2026-04-05T12:00:00Z'),
      },
    ]);
    expect(await usage.usage(tenant, '2026-04')).toEqual({ month: '2026-04', deviceDays: 3, devices: 0 });
  });

  it.runIf(enabled)('reads nothing with a key other than its pair’s, and changes nothing', async () => {
    const tenant = randomUUID();
    await audit.ingest('devices', [created(tenant, randomUUID(), '2026-04-02T00:00:00Z')]);
    const cursor = await meter().cursor();
    await expect(meter(audit.keys.devices).poll()).rejects.toThrow('audit answered 401');
    expect(await meter().cursor()).toBe(cursor);
    expect(await presence(tenant)).toEqual([]);
  });
});
