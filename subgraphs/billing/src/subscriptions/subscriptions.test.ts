import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConflictError, createLogger, openDatabase, type Database, type Engine } from '@fleet/service-kit';
import { createServiceDatabases, postgresSuiteEnabled } from '../../../../test/support/postgres.js';
import { migrations } from '../database/migrations.js';
import type { BillingDatabase } from '../database/schema.js';
import { manualProvider } from '../payments/manual/manual-provider.js';
import { BILLING_ACTOR, Subscriptions, type EntitlementGuard } from './subscriptions.js';

/**
 * The subscription lifecycle on a real database, with billing's clock in the test's hands:
 * trials, standing, cancels, and the plan segments invoices prorate from.
 */

const engines: { engine: Engine; enabled: boolean }[] = [
  { engine: 'pglite', enabled: true },
  { engine: 'postgres', enabled: await postgresSuiteEnabled() },
];

const DAY = 86_400_000;
const person = { kind: 'user' as const, id: randomUUID() };

/** Stands in for devices at the boundary: holds quotas per tenant, refusing a downgrade below a count. */
class DevicesAtTheBoundary implements EntitlementGuard {
  readonly counts = new Map<string, number>();
  readonly enforced: { tenantId: string; deviceQuota: number }[] = [];
  notified = 0;

  enforce(tenantId: string, change: { deviceQuota: number; planName: string }): Promise<void> {
    const count = this.counts.get(tenantId) ?? 0;
    if (count > change.deviceQuota)
      return Promise.reject(
        new ConflictError(
          `The tenant has ${count} devices; plan "${change.planName}" allows ${change.deviceQuota}`,
        ),
      );
    this.enforced.push({ tenantId, deviceQuota: change.deviceQuota });
    return Promise.resolve();
  }

  notify(): void {
    this.notified++;
  }
}

describe.each(engines)('subscriptions on $engine', ({ engine, enabled }) => {
  describe.skipIf(!enabled)('lifecycle', () => {
    let database: Database<BillingDatabase>;
    let dir: string;
    let drop: (() => Promise<void>) | undefined;
    let clock = new Date('2026-03-01T00:00:00Z');
    const devices = new DevicesAtTheBoundary();
    let subscriptions: Subscriptions;

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'billing-subscriptions-'));
      let url: string | undefined;
      if (engine === 'postgres') {
        const created = await createServiceDatabases(['billing']);
        url = created.databases.billing.url;
        drop = created.drop;
      }
      database = await openDatabase<BillingDatabase>({
        url,
        dataDir: dir,
        migrations,
        logger: createLogger({ service: 'test', level: 'silent' }),
      });
      subscriptions = new Subscriptions({
        db: database.db,
        provider: manualProvider,
        entitlements: devices,
        onEvent: () => {},
        now: () => clock,
      });
    });

    afterAll(async () => {
      await database?.close();
      await drop?.();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    const segmentsOf = (tenantId: string) =>
      database.db
        .selectFrom('plan_segment')
        .select(['plan_id', 'starts_at', 'ends_at', 'billable', 'price_minor'])
        .where('tenant_id', '=', tenantId)
        .orderBy('starts_at')
        .execute();

    const eventsOf = (tenantId: string) =>
      database.db
        .selectFrom('outbox')
        .select(['event_type', 'payload', 'sequence'])
        .where('aggregate_id', '=', tenantId)
        .orderBy('sequence')
        .execute();

    it('starts a first paid plan with its trial, which ends on time into a billable segment', async () => {
      const tenantId = randomUUID();
      clock = new Date('2026-03-03T10:00:00Z');
      expect((await subscriptions.get(tenantId)).status).toBe('active');
      const { view } = await subscriptions.changePlan(tenantId, 'pro', person, 'caller');
      expect(view).toMatchObject({ status: 'trialing', plan: { id: 'pro' } });
      const trialEnd = new Date(clock.getTime() + 14 * DAY);
      expect(view.trialEndsAt).toEqual(trialEnd);

      // Not yet due.
      clock = new Date(trialEnd.getTime() - 1);
      expect(await subscriptions.endTrials(BILLING_ACTOR)).toBe(0);
      // Noticed late; the paid segment still starts when the trial ended.
      clock = new Date(trialEnd.getTime() + 3 * 3_600_000);
      expect(await subscriptions.endTrials(BILLING_ACTOR)).toBe(1);
      expect((await subscriptions.get(tenantId)).status).toBe('active');
      expect(await segmentsOf(tenantId)).toEqual([
        {
          plan_id: 'pro',
          starts_at: new Date('2026-03-03T10:00:00Z'),
          ends_at: trialEnd,
          billable: false,
          price_minor: 4900,
        },
        { plan_id: 'pro', starts_at: trialEnd, ends_at: null, billable: true, price_minor: 4900 },
      ]);
      expect(
        (await eventsOf(tenantId)).map((e) => [e.event_type, (e.payload as { status: string }).status]),
      ).toEqual([
        ['subscription.plan_changed', 'trialing'],
        ['subscription.trial_ended', 'active'],
      ]);
    });

    it('keeps the trial across a change of plan during it, and gives no second trial', async () => {
      const tenantId = randomUUID();
      clock = new Date('2026-04-01T00:00:00Z');
      const first = await subscriptions.changePlan(tenantId, 'pro', person, 'caller');
      clock = new Date('2026-04-05T00:00:00Z');
      const second = await subscriptions.changePlan(tenantId, 'enterprise', person, 'caller');
      expect(second.view).toMatchObject({ status: 'trialing', trialEndsAt: first.view.trialEndsAt });
      clock = new Date('2026-04-06T00:00:00Z');
      expect((await subscriptions.cancel(tenantId, person, 'caller')).status).toBe('canceled');
      clock = new Date('2026-04-07T00:00:00Z');
      const again = await subscriptions.changePlan(tenantId, 'pro', person, 'caller');
      expect(again.view).toMatchObject({ status: 'active', trialEndsAt: null, canceledAt: null });
      expect((await segmentsOf(tenantId)).map((s) => [s.plan_id, s.billable])).toEqual([
        ['pro', false],
        ['enterprise', false],
        ['free', false],
        ['pro', true],
      ]);
    });

    it('prorates by the second: a change of plan closes one segment where the next opens', async () => {
      const tenantId = randomUUID();
      await database.db
        .insertInto('subscription')
        .values({
          tenant_id: tenantId,
          plan_id: 'free',
          status: 'active',
          provider: 'manual',
          trial_used: true,
        })
        .execute();
      clock = new Date('2026-06-01T00:00:00Z');
      await subscriptions.changePlan(tenantId, 'pro', person, 'caller');
      clock = new Date('2026-06-11T12:30:00Z');
      await subscriptions.changePlan(tenantId, 'enterprise', person, 'caller');
      expect(await segmentsOf(tenantId)).toEqual([
        {
          plan_id: 'pro',
          starts_at: new Date('2026-06-01T00:00:00Z'),
          ends_at: clock,
          billable: true,
          price_minor: 4900,
        },
        { plan_id: 'enterprise', starts_at: clock, ends_at: null, billable: true, price_minor: 99900 },
      ]);
    });

    it('refuses a downgrade below the device count, stating it, and changes nothing', async () => {
      const tenantId = randomUUID();
      clock = new Date('2026-07-01T00:00:00Z');
      await subscriptions.changePlan(tenantId, 'enterprise', person, 'caller');
      devices.counts.set(tenantId, 7);
      const before = { segments: await segmentsOf(tenantId), events: await eventsOf(tenantId) };
      clock = new Date('2026-07-02T00:00:00Z');
      await expect(subscriptions.changePlan(tenantId, 'free', person, 'caller')).rejects.toThrow(
        'The tenant has 7 devices; plan "Free" allows 5',
      );
      await expect(subscriptions.cancel(tenantId, person, 'caller')).rejects.toThrow(
        'The tenant has 7 devices',
      );
      expect((await subscriptions.get(tenantId)).plan.id).toBe('enterprise');
      expect({ segments: await segmentsOf(tenantId), events: await eventsOf(tenantId) }).toEqual(before);
      // Upgrades and same-quota moves do not ask devices.
      devices.counts.set(tenantId, 100);
      await subscriptions.changePlan(tenantId, 'pro', person, 'caller');
      expect(devices.enforced).toContainEqual({ tenantId, deviceQuota: 100 });
    });

    it('falls past due and back, and a provider may cancel whatever the count', async () => {
      const tenantId = randomUUID();
      clock = new Date('2026-08-01T00:00:00Z');
      await subscriptions.changePlan(tenantId, 'pro', person, 'caller');
      // Payment failing during the trial ends the trial: the tenant owes from now.
      clock = new Date('2026-08-03T00:00:00Z');
      const overdue = await subscriptions.setStanding(tenantId, 'past_due', BILLING_ACTOR);
      expect(overdue).toMatchObject({ status: 'past_due', pastDueSince: clock, trialEndsAt: null });
      expect(await subscriptions.setStanding(tenantId, 'past_due', BILLING_ACTOR)).toEqual(overdue);
      clock = new Date('2026-08-04T00:00:00Z');
      expect((await subscriptions.setStanding(tenantId, 'active', BILLING_ACTOR)).status).toBe('active');
      devices.counts.set(tenantId, 50);
      const canceled = await subscriptions.cancel(tenantId, BILLING_ACTOR, 'provider');
      expect(canceled).toMatchObject({ status: 'canceled', plan: { id: 'free' }, canceledAt: clock });
      expect((await eventsOf(tenantId)).map((e) => e.event_type)).toEqual([
        'subscription.plan_changed',
        'subscription.past_due',
        'subscription.reactivated',
        'subscription.canceled',
      ]);
      expect((await segmentsOf(tenantId)).map((s) => [s.plan_id, s.billable])).toEqual([
        ['pro', false],
        ['pro', true],
        ['free', false],
      ]);
      // Nothing to cancel any more.
      await expect(subscriptions.cancel(tenantId, person, 'caller')).rejects.toThrow('no paid subscription');
    });

    it('marks entitlements to push after every change and tells the sync', async () => {
      const tenantId = randomUUID();
      const before = devices.notified;
      await subscriptions.changePlan(tenantId, 'pro', person, 'caller');
      expect(devices.notified).toBe(before + 1);
      const row = await database.db
        .selectFrom('subscription')
        .select('entitlement_dirty')
        .where('tenant_id', '=', tenantId)
        .executeTakeFirstOrThrow();
      expect(row.entitlement_dirty).toBe(true);
      // The same plan again is no change: no event, no push.
      expect((await subscriptions.changePlan(tenantId, 'pro', person, 'caller')).eventId).toBeNull();
      expect(devices.notified).toBe(before + 1);
    });
  });
});
