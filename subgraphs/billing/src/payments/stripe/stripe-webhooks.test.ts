import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startStripeSim, type StripeEvent, type StripeSim } from '@fleet/stripe-sim';
import { createLogger, type Database, type Engine } from '@fleet/service-kit';
import { openBillingTestDatabase, tableEffects } from '../../../../../test/support/billing-payments.js';
import { postgresSuiteEnabled } from '../../../../../test/support/postgres.js';
import type { BillingDatabase } from '../../database/schema.js';
import type { PaymentProvider } from '../payment-provider.js';
import { ProviderEvents } from '../provider-events.js';
import { createStripeProvider } from './stripe-provider.js';
import { StripeWebhooks } from './stripe-webhooks.js';

/**
 * Stripe's events, made by the simulator from what the real SDK did there, signed as Stripe
 * signs them, through the verification and the mapping into billing's calls, recorded in a
 * real billing database on each engine.
 */

const engines: { engine: Engine; enabled: boolean }[] = [
  { engine: 'pglite', enabled: true },
  { engine: 'postgres', enabled: await postgresSuiteEnabled() },
];

const TOLERANCE_S = 300;

describe.each(engines)('Stripe webhooks on $engine', ({ engine, enabled }) => {
  describe.skipIf(!enabled)('', () => {
    let sim: StripeSim;
    let database: Database<BillingDatabase>;
    let close: () => Promise<void>;
    let provider: PaymentProvider;
    let effects: Awaited<ReturnType<typeof tableEffects>>;
    let webhooks: StripeWebhooks;
    let notified = 0;

    beforeAll(async () => {
      sim = await startStripeSim();
      ({ database, close } = await openBillingTestDatabase(engine));
      provider = createStripeProvider({
        secretKey: sim.secretKey,
        apiUrl: sim.url,
        timeoutMs: 5_000,
        successUrl: 'https://fleet.example/billing/subscribed',
        cancelUrl: 'https://fleet.example/billing',
      });
      effects = await tableEffects(database.db);
      webhooks = new StripeWebhooks({
        webhookSecret: sim.webhookSecret,
        toleranceS: TOLERANCE_S,
        events: new ProviderEvents(
          database.db,
          createLogger({ service: 'test', level: 'silent' }),
          () => notified++,
        ),
        effects,
      });
    });

    afterAll(async () => {
      await sim?.stop();
      await close?.();
    });

    beforeEach(() => {
      effects.calls.length = 0;
    });

    const db = () => database.db;

    /** Delivers an event as the gateway hands it over: the exact payload and its signature. */
    const deliver = (event: StripeEvent, options: { timestamp?: number; secret?: string } = {}) => {
      const { payload, signature } = sim.signed(event.id, options);
      return webhooks.receive(Buffer.from(payload), signature);
    };

    /** A tenant that went through Checkout on the Pro plan; its events not delivered yet. */
    const checkout = async (trialDays = 0) => {
      const tenantId = randomUUID();
      const plan = (await db().selectFrom('plan').selectAll().where('id', '=', 'pro').executeTakeFirst())!;
      const session = await provider.startCheckout({
        tenantId,
        plan,
        account: { customerId: null, subscriptionId: null },
        trialDays,
      });
      const { events } = await sim.completeCheckout(session.sessionId);
      const [created, completed] = events as [StripeEvent, StripeEvent];
      return { tenantId, session, created, completed, subscriptionId: String(created.data.object.id) };
    };

    /** A tenant whose checkout billing applied. */
    const subscribed = async (trialDays = 0) => {
      const made = await checkout(trialDays);
      expect(await deliver(made.completed)).toEqual({ status: 200, outcome: 'applied' });
      return made;
    };

    const subscriptionOf = (tenantId: string) =>
      db().selectFrom('subscription').selectAll().where('tenant_id', '=', tenantId).executeTakeFirst();
    const recorded = (eventId: string) =>
      db().selectFrom('provider_event').selectAll().where('event_id', '=', eventId).executeTakeFirst();
    const webhookEvents = () =>
      db()
        .selectFrom('outbox')
        .select(['aggregate_id', 'tenant_id', 'actor', 'payload'])
        .where('event_type', '=', 'payment.webhook')
        .orderBy('position')
        .execute();
    const counts = async () => ({
      providerEvents: Number(
        (await db()
          .selectFrom('provider_event')
          .select((eb) => eb.fn.countAll().as('n'))
          .executeTakeFirst())!.n,
      ),
      subscriptions: await db().selectFrom('subscription').selectAll().orderBy('tenant_id').execute(),
    });

    it('applies a completed checkout: the provider ids attached, the plan of its metadata', async () => {
      const { tenantId, completed, subscriptionId, session } = await checkout(14);
      const before = (await webhookEvents()).length;
      expect(await deliver(completed)).toEqual({ status: 200, outcome: 'applied' });
      expect(await subscriptionOf(tenantId)).toMatchObject({
        plan_id: 'pro',
        provider: 'stripe',
        provider_customer_id: session.customerId,
        provider_subscription_id: subscriptionId,
      });
      expect(effects.calls.map((call) => call.name)).toEqual(['attachProvider', 'changePlan']);
      expect(effects.calls[0]!.change).toMatchObject({
        tenantId,
        eventId: completed.id,
        actor: { kind: 'system', id: 'stripe' },
      });
      expect(await recorded(completed.id)).toMatchObject({
        provider: 'stripe',
        type: 'checkout.session.completed',
        object_id: session.sessionId,
        outcome: 'applied',
        tenant_id: tenantId,
        created_at: new Date(completed.created * 1000),
      });
      const events = (await webhookEvents()).slice(before);
      expect(events).toEqual([
        {
          aggregate_id: completed.id,
          tenant_id: tenantId,
          actor: { kind: 'system', id: 'stripe' },
          payload: {
            provider: 'stripe',
            eventId: completed.id,
            eventType: 'checkout.session.completed',
            objectId: session.sessionId,
            outcome: 'applied',
          },
        },
      ]);
      expect(notified).toBeGreaterThan(0);
    });

    it('maps the subscription’s statuses; an agreement not attached yet changes nothing', async () => {
      const { tenantId, created, completed, subscriptionId } = await checkout(14);
      // Stripe sends the subscription's creation first: billing does not know it yet.
      expect(await deliver(created)).toEqual({ status: 200, outcome: 'ignored' });
      expect(await recorded(created.id)).toMatchObject({ outcome: 'ignored' });
      await deliver(completed);
      sim.advanceClock(1);
      const trialing = await sim.setSubscriptionStatus(subscriptionId, 'trialing');
      expect(await deliver(trialing.events[0]!)).toEqual({ status: 200, outcome: 'applied' });
      expect((await subscriptionOf(tenantId))!.status).toBe('trialing');
      expect((await subscriptionOf(tenantId))!.trial_ends_at!.getTime()).toBe(
        Number(trialing.events[0]!.data.object.trial_end) * 1000,
      );
      const steps: [Parameters<StripeSim['setSubscriptionStatus']>[1], string][] = [
        ['active', 'active'],
        ['past_due', 'past_due'],
        ['active', 'active'],
        ['unpaid', 'past_due'],
        ['incomplete_expired', 'canceled'],
      ];
      for (const [stripeStatus, status] of steps) {
        sim.advanceClock(1);
        const { events } = await sim.setSubscriptionStatus(subscriptionId, stripeStatus);
        expect(await deliver(events[0]!), stripeStatus).toEqual({ status: 200, outcome: 'applied' });
        expect((await subscriptionOf(tenantId))!.status, stripeStatus).toBe(status);
      }
      sim.advanceClock(1);
      const paused = await sim.setSubscriptionStatus(subscriptionId, 'paused');
      expect(await deliver(paused.events[0]!)).toEqual({ status: 200, outcome: 'ignored' });
      expect((await subscriptionOf(tenantId))!.status).toBe('canceled');
    });

    it('applies a cancellation: customer.subscription.deleted', async () => {
      const { tenantId, subscriptionId } = await subscribed();
      await provider.cancel({ customerId: null, subscriptionId });
      const deleted = sim.events().at(-1)!;
      expect(deleted.type).toBe('customer.subscription.deleted');
      expect(await deliver(deleted)).toEqual({ status: 200, outcome: 'applied' });
      expect(await subscriptionOf(tenantId)).toMatchObject({ status: 'canceled' });
    });

    it('refuses a delivery with a bad or missing signature, and changes nothing', async () => {
      const { completed } = await checkout();
      const before = await counts();
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
      expect(await counts()).toEqual(before);
      expect(await recorded(completed.id)).toBeUndefined();
      const refusals = (await webhookEvents()).slice(-4);
      expect(refusals.map((event) => event.payload)).toEqual([
        { provider: 'stripe', outcome: 'refused', reason: 'signature' },
        { provider: 'stripe', outcome: 'refused', reason: 'signature' },
        { provider: 'stripe', outcome: 'refused', reason: 'signature' },
        { provider: 'stripe', outcome: 'refused', reason: 'signature' },
      ]);
      expect(refusals.every((event) => event.tenant_id === null)).toBe(true);
      // The genuine delivery still applies afterwards.
      expect(await deliver(completed)).toEqual({ status: 200, outcome: 'applied' });
    });

    it('refuses a delivery signed outside the tolerance, and changes nothing', async () => {
      const { completed } = await checkout();
      const before = await counts();
      const now = Math.floor(Date.now() / 1000);
      expect(await deliver(completed, { timestamp: now - TOLERANCE_S - 5 })).toMatchObject({
        status: 400,
        outcome: 'refused',
        message: expect.stringMatching(/tolerance/) as string,
      });
      expect(await counts()).toEqual(before);
      expect((await webhookEvents()).at(-1)!.payload).toEqual({
        provider: 'stripe',
        outcome: 'refused',
        reason: 'timestamp',
      });
      expect(await deliver(completed, { timestamp: now - TOLERANCE_S + 30 })).toEqual({
        status: 200,
        outcome: 'applied',
      });
    });

    it('answers a replayed event id as a duplicate, and changes nothing', async () => {
      const { tenantId, completed } = await subscribed();
      const row = await subscriptionOf(tenantId);
      const before = await counts();
      effects.calls.length = 0;
      expect(await deliver(completed)).toEqual({ status: 200, outcome: 'duplicate' });
      expect(await counts()).toEqual(before);
      expect(await subscriptionOf(tenantId)).toEqual(row);
      expect(effects.calls).toEqual([]);
      expect(await recorded(completed.id)).toMatchObject({ outcome: 'applied' });
      expect((await webhookEvents()).at(-1)!.payload).toMatchObject({
        eventId: completed.id,
        outcome: 'duplicate',
      });
    });

    it('applies one of two concurrent deliveries of an event, the other is a duplicate', async () => {
      const { completed } = await checkout();
      const outcomes = await Promise.all([deliver(completed), deliver(completed), deliver(completed)]);
      expect(outcomes.map((answer) => answer.outcome).sort()).toEqual(['applied', 'duplicate', 'duplicate']);
      expect(effects.calls.filter((call) => call.name === 'attachProvider')).toHaveLength(1);
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
      // Delivered out of order, the newer first. The tenant is active already: nothing to change,
      // but the event still tells the subscription's state at its time.
      expect(await deliver(active)).toEqual({ status: 200, outcome: 'ignored' });
      effects.calls.length = 0;
      expect(await deliver(pastDue)).toEqual({ status: 200, outcome: 'stale' });
      expect(effects.calls).toEqual([]);
      expect((await subscriptionOf(tenantId))!.status).toBe('active');
      expect(await recorded(pastDue.id)).toMatchObject({ outcome: 'stale', object_id: subscriptionId });
      expect((await webhookEvents()).at(-1)!.payload).toMatchObject({
        eventId: pastDue.id,
        outcome: 'stale',
      });
      // The end of the subscription, then news from before it.
      expect(await deliver(canceled)).toEqual({ status: 200, outcome: 'applied' });
      expect(await deliver(pastDueAgain)).toEqual({ status: 200, outcome: 'stale' });
      expect((await subscriptionOf(tenantId))!.status).toBe('canceled');
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
    });

    it('marks billing’s invoice paid on invoice.paid, and the tenant past due on a failed payment', async () => {
      const { tenantId, subscriptionId, session } = await subscribed();
      const invoiceId = randomUUID();
      await effects.addInvoice(invoiceId, tenantId);
      const account = { customerId: session.customerId, subscriptionId };
      const stripeInvoiceId = await provider.collect(
        {
          id: invoiceId,
          tenantId,
          period: '2026-05',
          currency: 'EUR',
          totalMinor: 5055,
          lines: [
            { description: 'Pro, May 2026', amountMinor: 4900 },
            { description: '31 device-days', amountMinor: 155 },
          ],
        },
        account,
      );
      await sim.idle();
      const finalized = sim.events().at(-1)!;
      expect(finalized.type).toBe('invoice.finalized');
      expect(await deliver(finalized)).toEqual({ status: 200, outcome: 'ignored' });
      sim.advanceClock(60);
      const failed = (await sim.failInvoicePayment(stripeInvoiceId!)).events[0]!;
      expect(await deliver(failed)).toEqual({ status: 200, outcome: 'applied' });
      expect((await subscriptionOf(tenantId))!.status).toBe('past_due');
      expect(effects.calls.at(-1)).toMatchObject({
        name: 'setStatus',
        change: { subscriptionId, status: 'past_due' },
      });
      sim.advanceClock(60);
      const paid = (await sim.payInvoice(stripeInvoiceId!)).events[0]!;
      expect(await deliver(paid)).toEqual({ status: 200, outcome: 'applied' });
      expect(await effects.invoice(invoiceId)).toEqual({
        status: 'paid',
        provider_invoice_id: stripeInvoiceId,
      });
      expect(effects.calls.at(-1)).toMatchObject({
        name: 'markInvoicePaid',
        change: {
          tenantId,
          invoiceId,
          providerInvoiceId: stripeInvoiceId,
          paidAt: new Date(Number(paid.created) * 1000),
        },
      });
      // Stripe delivering the failure again changes nothing.
      expect(await deliver(failed)).toEqual({ status: 200, outcome: 'duplicate' });
    });

    it('ignores an invoice that is not billing’s', async () => {
      const { session } = await subscribed();
      const stripe = (await import('stripe')).default;
      const client = new stripe(sim.secretKey, { ...sim.clientOptions, maxNetworkRetries: 0 });
      const invoice = await client.invoices.create({ customer: session.customerId, currency: 'eur' });
      await client.invoices.finalizeInvoice(invoice.id);
      await sim.idle();
      const paid = sim.events().at(-1)!;
      expect(paid.type).toBe('invoice.paid');
      effects.calls.length = 0;
      expect(await deliver(paid)).toEqual({ status: 200, outcome: 'ignored' });
      expect(effects.calls).toEqual([]);
      expect((await webhookEvents()).at(-1)!.payload).toMatchObject({
        eventType: 'invoice.paid',
        outcome: 'ignored',
        reason: 'names no tenant of billing',
      });
    });

    it('records a change billing refuses as ignored, with nothing of it kept', async () => {
      const { tenantId, completed } = await checkout();
      effects.fail('refusal', 'changePlan');
      expect(await deliver(completed)).toEqual({ status: 200, outcome: 'ignored' });
      // attachProvider ran before the refusal: rolled back with it.
      expect(await subscriptionOf(tenantId)).toBeUndefined();
      expect(await recorded(completed.id)).toMatchObject({ outcome: 'ignored' });
      expect((await webhookEvents()).at(-1)!.payload).toMatchObject({
        outcome: 'ignored',
        reason: 'BAD_USER_INPUT',
      });
      expect(await deliver(completed)).toEqual({ status: 200, outcome: 'duplicate' });
    });

    it('keeps nothing of an event whose change fails, so that Stripe’s redelivery applies it', async () => {
      const { tenantId, completed } = await checkout();
      const before = await counts();
      effects.fail('fault', 'attachProvider');
      await expect(deliver(completed)).rejects.toThrow(/database went away/);
      expect(await counts()).toEqual(before);
      expect(await recorded(completed.id)).toBeUndefined();
      expect(await deliver(completed)).toEqual({ status: 200, outcome: 'applied' });
      expect(await subscriptionOf(tenantId)).toMatchObject({ plan_id: 'pro' });
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
        expect(JSON.stringify(row.payload)).not.toMatch(/@|card|4242|whsec_|sk_test_/);
      }
    });
  });
});
