import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Stripe from 'stripe';
import type { StripeEvent, StripeSim } from '@fleet/stripe-sim';
import type { Engine } from '@fleet/service-kit';
import { postgresSuiteEnabled } from '../../../../../test/support/postgres.js';
import {
  startStripeBilling,
  WEBHOOK_TOLERANCE_S,
  type StripeBilling,
} from '../../../../../test/support/stripe-billing.js';
import type { BillingDatabase } from '../../database/schema.js';

/**
 * Stripe's events, made by the simulator from what the real SDK did there, signed as Stripe
 * signs them, through the verification and the mapping into billing's own subscription code,
 * recorded in a real billing database on each engine. What each delivery did is read back
 * from billing's tables and its outbox.
 */

const engines: { engine: Engine; enabled: boolean }[] = [
  { engine: 'pglite', enabled: true },
  { engine: 'postgres', enabled: await postgresSuiteEnabled() },
];

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const STRIPE = { kind: 'system', id: 'stripe' };

describe.each(engines)('Stripe webhooks into billing on $engine', ({ engine, enabled }) => {
  describe.skipIf(!enabled)('', () => {
    let billing: StripeBilling;
    let sim: StripeSim;
    /** Set to make the next changePlan fail after billing made its changes. */
    let faultAfterChangePlan = false;

    beforeAll(async () => {
      billing = await startStripeBilling(engine, {
        // The database going away in the middle of applying an event.
        effects: (effects) => ({
          ...effects,
          async changePlan(trx, change) {
            const outcome = await effects.changePlan(trx, change);
            if (faultAfterChangePlan) {
              faultAfterChangePlan = false;
              throw new Error('the connection to the database was lost');
            }
            return outcome;
          },
        }),
      });
      sim = billing.sim;
      billing.setClock('2026-06-01T08:00:00Z');
    });

    afterAll(async () => {
      await billing?.close();
    });

    const db = () => billing.db;
    const deliver = (event: StripeEvent, signing?: Parameters<StripeBilling['deliver']>[1]) =>
      billing.deliver(event, signing);
    /** Billing's clock and Stripe's move on together. */
    const later = (hours = 1) => {
      billing.setClock(new Date(billing.now().getTime() + hours * HOUR));
      sim.advanceClock(hours * 3_600);
    };

    /** A tenant whose checkout billing applied: Pro, trialing. */
    const subscribed = async () => {
      const made = await billing.checkout();
      expect(await deliver(made.completed)).toEqual({ status: 200, outcome: 'applied' });
      later();
      return made;
    };

    const subscriptionOf = (tenantId: string) =>
      db().selectFrom('subscription').selectAll().where('tenant_id', '=', tenantId).executeTakeFirst();
    const segmentsOf = (tenantId: string) =>
      db()
        .selectFrom('plan_segment')
        .select(['plan_id', 'billable', 'starts_at', 'ends_at'])
        .where('tenant_id', '=', tenantId)
        .orderBy('starts_at')
        .execute();
    const recorded = (eventId: string) =>
      db().selectFrom('provider_event').selectAll().where('event_id', '=', eventId).executeTakeFirst();
    /** The tenant's subscription events, oldest first. */
    const changesOf = (tenantId: string) =>
      db()
        .selectFrom('outbox')
        .select(['event_type', 'actor', 'payload'])
        .where('aggregate_type', '=', 'subscription')
        .where('aggregate_id', '=', tenantId)
        .orderBy('sequence')
        .execute();
    const webhookEvents = () =>
      db()
        .selectFrom('outbox')
        .select(['aggregate_id', 'tenant_id', 'actor', 'payload'])
        .where('event_type', '=', 'payment.webhook')
        .orderBy('position')
        .execute();
    const count = async (table: 'provider_event' | 'plan_segment') =>
      Number(
        (
          await db()
            .selectFrom(table as keyof BillingDatabase)
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      );
    /** Billing's events but the records of deliveries. */
    const countChanges = async () =>
      Number(
        (
          await db()
            .selectFrom('outbox')
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .where('event_type', '<>', 'payment.webhook')
            .executeTakeFirstOrThrow()
        ).n,
      );
    /** What an event could change: its record, subscriptions, segments, billing's other events. */
    const state = async () => ({
      providerEvents: await count('provider_event'),
      changes: await countChanges(),
      segments: await count('plan_segment'),
      subscriptions: await db().selectFrom('subscription').selectAll().orderBy('tenant_id').execute(),
    });

    it('applies a completed checkout: the agreement attached, the plan of its metadata with its trial', async () => {
      const { tenantId, completed, subscriptionId, customerId, sessionId } = await billing.checkout();
      const now = billing.now();
      const notified = billing.notified;
      expect(await deliver(completed)).toEqual({ status: 200, outcome: 'applied' });
      expect(await subscriptionOf(tenantId)).toMatchObject({
        plan_id: 'pro',
        status: 'trialing',
        trial_ends_at: new Date(now.getTime() + 14 * DAY),
        trial_used: true,
        provider: 'stripe',
        provider_customer_id: customerId,
        provider_subscription_id: subscriptionId,
      });
      expect(await segmentsOf(tenantId)).toEqual([
        { plan_id: 'pro', billable: false, starts_at: now, ends_at: null },
      ]);
      // The owner's Checkout attached the customer; Stripe's event the subscription, then the plan.
      const changes = await changesOf(tenantId);
      expect(changes.map((change) => [change.event_type, change.actor.kind])).toEqual([
        ['subscription.provider_attached', 'user'],
        ['subscription.provider_attached', 'system'],
        ['subscription.plan_changed', 'system'],
      ]);
      expect(changes.at(-1)).toEqual({
        event_type: 'subscription.plan_changed',
        actor: STRIPE,
        payload: {
          tenantId,
          planId: 'pro',
          status: 'trialing',
          trialEndsAt: new Date(now.getTime() + 14 * DAY).toISOString(),
          provider: 'stripe',
          previousStatus: 'active',
        },
      });
      expect(await recorded(completed.id)).toMatchObject({
        provider: 'stripe',
        type: 'checkout.session.completed',
        object_id: sessionId,
        outcome: 'applied',
        tenant_id: tenantId,
        created_at: new Date(completed.created * 1000),
      });
      expect((await webhookEvents()).at(-1)).toEqual({
        aggregate_id: completed.id,
        tenant_id: tenantId,
        actor: STRIPE,
        payload: {
          provider: 'stripe',
          eventId: completed.id,
          eventType: 'checkout.session.completed',
          objectId: sessionId,
          outcome: 'applied',
        },
      });
      expect(billing.notified).toBeGreaterThan(notified);
    });

    it('moves the subscription as Stripe reports it; news of an agreement not attached yet changes nothing', async () => {
      const { tenantId, created, completed, subscriptionId } = await billing.checkout();
      const start = billing.now();
      // Stripe sends the subscription's creation first: billing does not know it yet.
      expect(await deliver(created)).toEqual({ status: 200, outcome: 'ignored' });
      expect(await recorded(created.id)).toMatchObject({ outcome: 'ignored' });
      expect(await subscriptionOf(tenantId)).toMatchObject({
        plan_id: 'free',
        provider_subscription_id: null,
      });
      await deliver(completed);
      later();
      // Billing's own clock ends the trial it gave: Stripe's "trialing" changes nothing.
      const trialing = (await sim.setSubscriptionStatus(subscriptionId, 'trialing')).events[0]!;
      expect(await deliver(trialing)).toEqual({ status: 200, outcome: 'ignored' });
      const steps: [Parameters<StripeSim['setSubscriptionStatus']>[1], string, string, string][] = [
        ['active', 'active', 'pro', 'subscription.trial_ended'],
        ['past_due', 'past_due', 'pro', 'subscription.past_due'],
        ['active', 'active', 'pro', 'subscription.reactivated'],
        ['unpaid', 'past_due', 'pro', 'subscription.past_due'],
        ['incomplete_expired', 'canceled', 'free', 'subscription.canceled'],
      ];
      for (const [stripeStatus, status, plan, type] of steps) {
        later();
        const { events } = await sim.setSubscriptionStatus(subscriptionId, stripeStatus);
        expect(await deliver(events[0]!), stripeStatus).toEqual({ status: 200, outcome: 'applied' });
        expect(await subscriptionOf(tenantId), stripeStatus).toMatchObject({ status, plan_id: plan });
        expect((await changesOf(tenantId)).at(-1), stripeStatus).toMatchObject({
          event_type: type,
          actor: STRIPE,
          payload: { status, planId: plan },
        });
      }
      expect(await subscriptionOf(tenantId)).toMatchObject({
        trial_ends_at: null,
        past_due_since: null,
        canceled_at: billing.now(),
      });
      later();
      const paused = await sim.setSubscriptionStatus(subscriptionId, 'paused');
      expect(await deliver(paused.events[0]!)).toEqual({ status: 200, outcome: 'ignored' });
      expect((await webhookEvents()).at(-1)!.payload).toMatchObject({
        outcome: 'ignored',
        reason: 'status paused changes nothing',
      });
      // The trial free of charge, paid from Stripe's "active" on, free again once it ended.
      expect(await segmentsOf(tenantId)).toEqual([
        { plan_id: 'pro', billable: false, starts_at: start, ends_at: new Date(start.getTime() + 2 * HOUR) },
        {
          plan_id: 'pro',
          billable: true,
          starts_at: new Date(start.getTime() + 2 * HOUR),
          ends_at: new Date(start.getTime() + 6 * HOUR),
        },
        { plan_id: 'free', billable: false, starts_at: new Date(start.getTime() + 6 * HOUR), ends_at: null },
      ]);
    });

    it('applies Stripe’s end of the subscription; after billing’s own cancel, Stripe’s news of it changes nothing', async () => {
      const ended = await subscribed();
      const { events } = await sim.setSubscriptionStatus(ended.subscriptionId, 'canceled');
      expect(events[0]!.type).toBe('customer.subscription.deleted');
      expect(await deliver(events[0]!)).toEqual({ status: 200, outcome: 'applied' });
      expect(await subscriptionOf(ended.tenantId)).toMatchObject({ status: 'canceled', plan_id: 'free' });

      const canceled = await subscribed();
      await billing.subscriptions.cancel(canceled.tenantId, { kind: 'user', id: randomUUID() }, 'caller');
      const deleted = sim.events().at(-1)!;
      expect(deleted).toMatchObject({ type: 'customer.subscription.deleted' });
      expect(deleted.data.object.id).toBe(canceled.subscriptionId);
      const before = await state();
      expect(await deliver(deleted)).toEqual({ status: 200, outcome: 'ignored' });
      expect(await state()).toEqual({ ...before, providerEvents: before.providerEvents + 1 });
      expect(
        (await changesOf(canceled.tenantId)).filter((c) => c.event_type === 'subscription.canceled'),
      ).toEqual([expect.objectContaining({ actor: { kind: 'user', id: expect.any(String) as string } })]);
    });

    it('ignores news of an older agreement of the tenant: a late end of it does not cancel the new one', async () => {
      const first = await subscribed();
      await billing.subscriptions.cancel(first.tenantId, { kind: 'user', id: randomUUID() }, 'caller');
      // Stripe's news of the end of the first agreement is late…
      const lateEnd = sim.events().at(-1)!;
      expect(lateEnd.data.object.id).toBe(first.subscriptionId);
      later();
      // …the owner subscribes again (no second trial), and only then does it arrive.
      const second = await billing.checkout({ tenantId: first.tenantId });
      expect(second.subscriptionId).not.toBe(first.subscriptionId);
      expect(second.customerId).toBe(first.customerId);
      expect(await deliver(second.completed)).toEqual({ status: 200, outcome: 'applied' });
      expect(await subscriptionOf(first.tenantId)).toMatchObject({
        plan_id: 'pro',
        status: 'active',
        provider_subscription_id: second.subscriptionId,
      });
      const before = await state();
      expect(await deliver(lateEnd)).toEqual({ status: 200, outcome: 'ignored' });
      expect(await state()).toEqual({ ...before, providerEvents: before.providerEvents + 1 });
      expect(await recorded(lateEnd.id)).toMatchObject({
        outcome: 'ignored',
        object_id: first.subscriptionId,
      });
    });

    it('refuses a delivery with a bad or missing signature, and changes nothing', async () => {
      const { completed } = await billing.checkout();
      const before = await state();
      const webhooks = billing.webhooks;
      const forged = sim.signed(completed.id, { secret: 'whsec_not-the-endpoints-secret' });
      expect(await webhooks.receive(Buffer.from(forged.payload), forged.signature)).toMatchObject({
        status: 400,
        outcome: 'refused',
      });
      const genuine = sim.signed(completed.id);
      expect(await webhooks.receive(Buffer.from(genuine.payload), undefined)).toMatchObject({ status: 400 });
      expect(await webhooks.receive(Buffer.from(`${genuine.payload} `), genuine.signature)).toMatchObject({
        status: 400,
      });
      const tampered = genuine.payload.replace('"mode": "subscription"', '"mode": "payment"');
      expect(tampered).not.toBe(genuine.payload);
      expect(await webhooks.receive(Buffer.from(tampered), genuine.signature)).toMatchObject({ status: 400 });
      expect(await state()).toEqual(before);
      expect(await recorded(completed.id)).toBeUndefined();
      const refusals = (await webhookEvents()).slice(-4);
      expect(refusals.map((event) => event.payload)).toEqual(
        Array.from({ length: 4 }, () => ({ provider: 'stripe', outcome: 'refused', reason: 'signature' })),
      );
      expect(refusals.every((event) => event.tenant_id === null)).toBe(true);
      // The genuine delivery still applies afterwards.
      expect(await deliver(completed)).toEqual({ status: 200, outcome: 'applied' });
    });

    it('refuses a delivery signed outside the tolerance, and changes nothing', async () => {
      const { completed } = await billing.checkout();
      const before = await state();
      const now = Math.floor(Date.now() / 1000);
      expect(await deliver(completed, { timestamp: now - WEBHOOK_TOLERANCE_S - 5 })).toMatchObject({
        status: 400,
        outcome: 'refused',
        message: expect.stringMatching(/tolerance/) as string,
      });
      expect(await state()).toEqual(before);
      expect((await webhookEvents()).at(-1)!.payload).toEqual({
        provider: 'stripe',
        outcome: 'refused',
        reason: 'timestamp',
      });
      expect(await deliver(completed, { timestamp: now - WEBHOOK_TOLERANCE_S + 30 })).toEqual({
        status: 200,
        outcome: 'applied',
      });
    });

    it('answers a replayed event id as a duplicate, and changes nothing', async () => {
      const { tenantId, completed } = await subscribed();
      const before = await state();
      expect(await deliver(completed)).toEqual({ status: 200, outcome: 'duplicate' });
      expect(await state()).toEqual(before);
      expect(await recorded(completed.id)).toMatchObject({ outcome: 'applied', tenant_id: tenantId });
      expect((await webhookEvents()).at(-1)!.payload).toMatchObject({
        eventId: completed.id,
        outcome: 'duplicate',
      });
    });

    it('applies one of concurrent deliveries of an event, the others are duplicates', async () => {
      const { tenantId, completed } = await billing.checkout();
      const outcomes = await Promise.all([deliver(completed), deliver(completed), deliver(completed)]);
      expect(outcomes.map((answer) => answer.outcome).sort()).toEqual(['applied', 'duplicate', 'duplicate']);
      expect(
        (await changesOf(tenantId))
          .filter((change) => change.actor.kind === 'system')
          .map((c) => c.event_type),
      ).toEqual(['subscription.provider_attached', 'subscription.plan_changed']);
    });

    it('ignores an event older than the last one taken about its object, and records it as stale', async () => {
      const { tenantId, subscriptionId } = await subscribed();
      const events: StripeEvent[] = [];
      for (const status of ['past_due', 'active', 'past_due', 'canceled'] as const) {
        sim.advanceClock(5);
        events.push((await sim.setSubscriptionStatus(subscriptionId, status)).events[0]!);
      }
      const [pastDue, active, pastDueAgain, canceled] = events as [
        StripeEvent,
        StripeEvent,
        StripeEvent,
        StripeEvent,
      ];
      // Delivered out of order, the newer first: the trial ends.
      expect(await deliver(active)).toEqual({ status: 200, outcome: 'applied' });
      const before = await state();
      expect(await deliver(pastDue)).toEqual({ status: 200, outcome: 'stale' });
      expect(await state()).toEqual({ ...before, providerEvents: before.providerEvents + 1 });
      expect((await subscriptionOf(tenantId))!.status).toBe('active');
      expect(await recorded(pastDue.id)).toMatchObject({ outcome: 'stale', object_id: subscriptionId });
      expect((await webhookEvents()).at(-1)!.payload).toMatchObject({
        eventId: pastDue.id,
        outcome: 'stale',
      });
      // The end of the subscription, then news from before it.
      expect(await deliver(canceled)).toEqual({ status: 200, outcome: 'applied' });
      expect(await deliver(pastDueAgain)).toEqual({ status: 200, outcome: 'stale' });
      expect(await subscriptionOf(tenantId)).toMatchObject({ status: 'canceled', plan_id: 'free' });
      expect(await deliver(pastDue)).toEqual({ status: 200, outcome: 'duplicate' });
    });

    it('orders events per object: an older event of another object still applies', async () => {
      const first = await subscribed();
      const second = await subscribed();
      sim.advanceClock(5);
      const older = (await sim.setSubscriptionStatus(first.subscriptionId, 'past_due')).events[0]!;
      sim.advanceClock(5);
      const newer = (await sim.setSubscriptionStatus(second.subscriptionId, 'past_due')).events[0]!;
      expect(await deliver(newer)).toEqual({ status: 200, outcome: 'applied' });
      expect(await deliver(older)).toEqual({ status: 200, outcome: 'applied' });
      expect((await subscriptionOf(first.tenantId))!.status).toBe('past_due');
      expect((await subscriptionOf(second.tenantId))!.status).toBe('past_due');
    });

    it('ignores an invoice that names no tenant of billing', async () => {
      const { customerId } = await subscribed();
      const client = new Stripe(sim.secretKey, { ...sim.clientOptions, maxNetworkRetries: 0 });
      const invoice = await client.invoices.create({ customer: customerId, currency: 'eur' });
      await client.invoices.finalizeInvoice(invoice.id);
      const paid = sim.events().at(-1)!;
      expect(paid.type).toBe('invoice.paid');
      const before = await state();
      expect(await deliver(paid)).toEqual({ status: 200, outcome: 'ignored' });
      expect(await state()).toEqual({ ...before, providerEvents: before.providerEvents + 1 });
      expect((await webhookEvents()).at(-1)!.payload).toMatchObject({
        eventType: 'invoice.paid',
        outcome: 'ignored',
        reason: 'names no tenant of billing',
      });
    });

    it('records a change billing refuses as ignored, with nothing of the event kept', async () => {
      await db()
        .insertInto('plan')
        .values({
          id: 'pro-usd',
          name: 'Pro (USD)',
          device_quota: 100,
          price_minor: 5_900,
          currency: 'USD',
          rate_limit_tier: 'standard',
          device_day_price_minor: 6,
          trial_days: 14,
          available: true,
        })
        .execute();
      // The owner opened Checkout twice, in dollars and in euros, then paid on both pages.
      const tenantId = randomUUID();
      const owner = { kind: 'user' as const, id: randomUUID() };
      const dollars = await billing.subscriptions.startCheckout(tenantId, 'pro-usd', owner);
      const euros = await billing.subscriptions.startCheckout(tenantId, 'pro', owner);
      const inEuros = (await sim.completeCheckout(euros.id)).events.at(-1)!;
      expect(await deliver(inEuros)).toEqual({ status: 200, outcome: 'applied' });
      const subscribedInEuros = await subscriptionOf(tenantId);
      const inDollars = (await sim.completeCheckout(dollars.id)).events.at(-1)!;
      const before = await state();
      // Billing bills the tenant in euros: the second agreement would change the currency.
      expect(await deliver(inDollars)).toEqual({ status: 200, outcome: 'ignored' });
      // Attaching the second agreement came first: it was undone with the refused change.
      expect(await subscriptionOf(tenantId)).toEqual(subscribedInEuros);
      expect(await state()).toEqual({ ...before, providerEvents: before.providerEvents + 1 });
      expect(await recorded(inDollars.id)).toMatchObject({ outcome: 'ignored' });
      expect((await webhookEvents()).at(-1)!.payload).toMatchObject({
        eventId: inDollars.id,
        outcome: 'ignored',
        reason: 'BAD_USER_INPUT',
      });
      expect(await deliver(inDollars)).toEqual({ status: 200, outcome: 'duplicate' });
    });

    it('keeps nothing of an event whose changes fail midway, so that Stripe’s redelivery applies it', async () => {
      const { tenantId, completed, subscriptionId } = await billing.checkout();
      const before = await state();
      faultAfterChangePlan = true;
      await expect(deliver(completed)).rejects.toThrow(/connection to the database was lost/);
      // The agreement attached and the plan changed, then the failure: all of it undone.
      expect(await state()).toEqual(before);
      expect(await recorded(completed.id)).toBeUndefined();
      expect(await deliver(completed)).toEqual({ status: 200, outcome: 'applied' });
      expect(await subscriptionOf(tenantId)).toMatchObject({
        plan_id: 'pro',
        status: 'trialing',
        provider_subscription_id: subscriptionId,
      });
    });

    it('puts ids, types and outcomes only into the outbox', async () => {
      const rows = await webhookEvents();
      expect(rows.length).toBeGreaterThan(10);
      for (const row of rows) {
        expect(Object.keys(row.payload).sort()).toEqual(
          expect.arrayContaining(['outcome', 'provider']) as string[],
        );
        for (const key of Object.keys(row.payload)) {
          expect(['provider', 'eventId', 'eventType', 'objectId', 'outcome', 'reason']).toContain(key);
        }
      }
      const everything = await db().selectFrom('outbox').select(['payload', 'actor']).execute();
      expect(JSON.stringify(everything)).not.toMatch(/@|card|4242|whsec_|sk_test_|Simulated Owner/);
    });
  });
});
