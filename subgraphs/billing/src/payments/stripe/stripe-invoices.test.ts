import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Stripe from 'stripe';
import type { StripeSim } from '@fleet/stripe-sim';
import type { Engine } from '@fleet/service-kit';
import { postgresSuiteEnabled } from '../../../../../test/support/postgres.js';
import {
  startStripeBilling,
  type CheckedOut,
  type StripeBilling,
} from '../../../../../test/support/stripe-billing.js';
import type { InvoiceRow } from '../../invoices/invoice-store.js';
import { BILLING_ACTOR } from '../../subscriptions/subscriptions.js';

/**
 * Billing's invoices collected through Stripe, on each engine: a tenant subscribed through
 * Checkout is invoiced by billing's own issuer for a closed month, the invoice handed over by
 * the stripe provider (the real SDK against the simulator), and Stripe's news of the payment
 * reaches billing's invoice and the tenant's standing through the webhooks. Billing's clock
 * is the test's, months before Stripe's, which runs in real time.
 */

const engines: { engine: Engine; enabled: boolean }[] = [
  { engine: 'pglite', enabled: true },
  { engine: 'postgres', enabled: await postgresSuiteEnabled() },
];

const DAY = 86_400_000;
const STRIPE = { kind: 'system', id: 'stripe' };
const admin = { kind: 'user' as const, id: randomUUID() };

// The month invoiced: three months ago.
const today = new Date();
const monthStart = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth() - 3, 1));
const period = monthStart.toISOString().slice(0, 7);
const issuedAt = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth() - 2, 1, 0, 5));
const dueAt = new Date(issuedAt.getTime() + 14 * DAY);

interface Invoiced extends CheckedOut {
  invoice: InvoiceRow;
  stripeInvoiceId: string;
}

describe.each(engines)('invoices collected through Stripe on $engine', ({ engine, enabled }) => {
  describe.skipIf(!enabled)('', () => {
    let billing: StripeBilling;
    let sim: StripeSim;
    let stripe: Stripe;

    beforeAll(async () => {
      billing = await startStripeBilling(engine);
      sim = billing.sim;
      stripe = new Stripe(sim.secretKey, { ...sim.clientOptions, maxNetworkRetries: 0 });
    });

    afterAll(async () => {
      await billing?.close();
    });

    const db = () => billing.db;

    const invoiceOf = async (tenantId: string) =>
      (await db()
        .selectFrom('invoice')
        .selectAll()
        .where('tenant_id', '=', tenantId)
        .where('period', '=', period)
        .executeTakeFirst())!;
    const linesOf = (invoiceId: string) =>
      db()
        .selectFrom('invoice_line')
        .select(['description', 'amount_minor'])
        .where('invoice_id', '=', invoiceId)
        .orderBy('line_no')
        .execute();
    const eventsOf = (aggregateId: string) =>
      db()
        .selectFrom('outbox')
        .select(['event_type', 'actor', 'payload'])
        .where('aggregate_id', '=', aggregateId)
        .where('event_type', '<>', 'payment.webhook')
        .orderBy('sequence')
        .execute();
    const subscriptionOf = (tenantId: string) =>
      db().selectFrom('subscription').selectAll().where('tenant_id', '=', tenantId).executeTakeFirstOrThrow();
    const heldOverdue = async (tenantId: string) =>
      (
        await db()
          .selectFrom('overdue_tenant')
          .select('tenant_id')
          .where('tenant_id', '=', tenantId)
          .execute()
      ).length > 0;
    const lastWebhook = async () =>
      (
        await db()
          .selectFrom('outbox')
          .select('payload')
          .where('event_type', '=', 'payment.webhook')
          .orderBy('position', 'desc')
          .limit(1)
          .executeTakeFirstOrThrow()
      ).payload;
    /** Everything an event about an invoice could change. */
    const state = async () => ({
      invoices: await db().selectFrom('invoice').selectAll().orderBy('id').execute(),
      subscriptions: await db().selectFrom('subscription').selectAll().orderBy('tenant_id').execute(),
      overdue: await db().selectFrom('overdue_tenant').selectAll().orderBy('tenant_id').execute(),
      changes: (
        await db().selectFrom('outbox').select('id').where('event_type', '<>', 'payment.webhook').execute()
      ).length,
    });

    /**
     * A tenant subscribed through Checkout at the start of the month, its trial ended by
     * billing's clock on the 15th, a device on from the 11th; at the month's end, billing has not
     * invoiced it yet.
     */
    async function subscribedThisMonth(): Promise<CheckedOut> {
      billing.setClock(monthStart);
      const made = await billing.checkout();
      expect(await billing.deliver(made.completed)).toEqual({ status: 200, outcome: 'applied' });
      billing.setClock(new Date(monthStart.getTime() + 14 * DAY));
      expect(await billing.subscriptions.endTrials(BILLING_ACTOR)).toBeGreaterThanOrEqual(1);
      expect(await subscriptionOf(made.tenantId)).toMatchObject({ status: 'active' });
      await db()
        .insertInto('device_presence')
        .values({
          device_id: randomUUID(),
          tenant_id: made.tenantId,
          present_from: new Date(monthStart.getTime() + 10 * DAY),
          present_until: null,
        })
        .execute();
      billing.setClock(issuedAt);
      return made;
    }

    /** …and then its invoice of the month, issued by a platform admin and handed to Stripe. */
    async function invoiced(): Promise<Invoiced> {
      const made = await subscribedThisMonth();
      expect(await billing.issuer.issue(period, admin)).toMatchObject({ period, issued: 1 });
      const invoice = await invoiceOf(made.tenantId);
      expect(invoice).toMatchObject({ status: 'open', provider: 'stripe', handed_over_at: issuedAt });
      expect(invoice.provider_invoice_id).toMatch(/^in_/);
      return { ...made, invoice, stripeInvoiceId: invoice.provider_invoice_id! };
    }

    it('hands an issued invoice to Stripe, whose payment marks it paid and ends billing’s hold on the tenant', async () => {
      const { tenantId, customerId, subscriptionId, invoice, stripeInvoiceId } = await invoiced();
      expect(invoice).toMatchObject({ currency: 'EUR', issued_at: issuedAt, due_at: dueAt, paid_at: null });
      expect(invoice.total_minor).toBeGreaterThan(0);
      // Stripe holds billing's invoice as billing computed it, line by line, on the agreement.
      const lines = await linesOf(invoice.id);
      expect(lines.map((line) => line.description)).toEqual([
        expect.stringMatching(/^Plan pro/) as string,
        expect.stringMatching(/^Device-days on plan pro/) as string,
      ]);
      const atStripe = sim.object(stripeInvoiceId)!;
      expect(atStripe).toMatchObject({
        status: 'open',
        customer: customerId,
        currency: 'eur',
        total: invoice.total_minor,
        amount_due: invoice.total_minor,
        metadata: { invoiceId: invoice.id, tenantId },
        parent: { subscription_details: { subscription: subscriptionId } },
      });
      expect(
        (atStripe.lines as { data: { description: string; amount: number }[] }).data.map((line) => ({
          description: line.description,
          amount_minor: line.amount,
        })),
      ).toEqual(lines);
      const finalized = sim
        .events()
        .find((e) => e.type === 'invoice.finalized' && e.data.object.id === stripeInvoiceId)!;
      expect(await billing.deliver(finalized)).toEqual({ status: 200, outcome: 'ignored' });

      // Unpaid after its due date: billing puts the tenant past due, and holds it so.
      billing.setClock(new Date(dueAt.getTime() + 3_600_000));
      await billing.payments.enforceDueDates();
      expect(await subscriptionOf(tenantId)).toMatchObject({ status: 'past_due' });
      expect(await heldOverdue(tenantId)).toBe(true);

      sim.advanceClock(60);
      const paid = (await sim.payInvoice(stripeInvoiceId)).events[0]!;
      expect(paid.type).toBe('invoice.paid');
      expect(await billing.deliver(paid)).toEqual({ status: 200, outcome: 'applied' });
      const paidAt = (paid.data.object.status_transitions as { paid_at: number }).paid_at;
      expect(await invoiceOf(tenantId)).toMatchObject({ status: 'paid', paid_at: new Date(paidAt * 1000) });
      expect(await eventsOf(invoice.id)).toEqual([
        expect.objectContaining({ event_type: 'invoice.issued', actor: admin }),
        {
          event_type: 'invoice.paid',
          actor: STRIPE,
          payload: { id: invoice.id, tenantId, period, currency: 'EUR', totalMinor: invoice.total_minor },
        },
      ]);
      expect(await subscriptionOf(tenantId)).toMatchObject({ status: 'active', past_due_since: null });
      expect((await eventsOf(tenantId)).at(-1)).toMatchObject({
        event_type: 'subscription.reactivated',
        actor: STRIPE,
        payload: { status: 'active', previousStatus: 'past_due' },
      });
      expect(await heldOverdue(tenantId)).toBe(false);

      // Stripe delivering it again, and billing's next check, change nothing.
      const before = await state();
      expect(await billing.deliver(paid)).toEqual({ status: 200, outcome: 'duplicate' });
      await billing.payments.enforceDueDates();
      expect(await state()).toEqual(before);
    });

    it('puts the tenant past due when Stripe fails to charge, and back in good standing once it is paid', async () => {
      const { tenantId, subscriptionId, invoice, stripeInvoiceId } = await invoiced();
      sim.advanceClock(60);
      const failed = (await sim.failInvoicePayment(stripeInvoiceId)).events[0]!;
      expect(failed.type).toBe('invoice.payment_failed');
      expect(await billing.deliver(failed)).toEqual({ status: 200, outcome: 'applied' });
      expect(await subscriptionOf(tenantId)).toMatchObject({ status: 'past_due', past_due_since: issuedAt });
      expect((await eventsOf(tenantId)).at(-1)).toMatchObject({
        event_type: 'subscription.past_due',
        actor: STRIPE,
      });
      expect(await invoiceOf(tenantId)).toMatchObject({ status: 'open' });
      // The standing is Stripe's, not billing's hold for an overdue invoice.
      expect(await heldOverdue(tenantId)).toBe(false);
      expect(await billing.deliver(failed)).toEqual({ status: 200, outcome: 'duplicate' });

      // Stripe's retry succeeds: the invoice is paid…
      sim.advanceClock(3 * 86_400);
      const paid = (await sim.payInvoice(stripeInvoiceId)).events[0]!;
      expect(await billing.deliver(paid)).toEqual({ status: 200, outcome: 'applied' });
      expect(await invoiceOf(tenantId)).toMatchObject({ status: 'paid' });
      expect((await eventsOf(invoice.id)).map((event) => event.event_type)).toEqual([
        'invoice.issued',
        'invoice.paid',
      ]);
      // …and with nothing left to pay the tenant is in good standing at once: the agreement's
      // own status (0 a month) need not change for that, and news that it is active changes nothing.
      expect(await subscriptionOf(tenantId)).toMatchObject({ status: 'active', past_due_since: null });
      expect((await eventsOf(tenantId)).at(-1)).toMatchObject({
        event_type: 'subscription.reactivated',
        actor: STRIPE,
      });
      sim.advanceClock(1);
      const recovered = (await sim.setSubscriptionStatus(subscriptionId, 'active')).events[0]!;
      expect(await billing.deliver(recovered)).toEqual({ status: 200, outcome: 'ignored' });
      expect(await subscriptionOf(tenantId)).toMatchObject({ status: 'active', past_due_since: null });
    });

    /** Stripe's invoice made outside billing's hand-over (another integration, the dashboard), paid at once. */
    async function paidElsewhere(customer: string, metadata: Record<string, string>) {
      const draft = await stripe.invoices.create({ customer, currency: 'eur', metadata });
      await stripe.invoices.finalizeInvoice(draft.id);
      const paid = sim.events().at(-1)!;
      expect(paid).toMatchObject({ type: 'invoice.paid', data: { object: { id: draft.id } } });
      return paid;
    }

    it('ignores an invoice.paid naming another tenant’s invoice, or a Stripe invoice billing did not hand over', async () => {
      const mine = await invoiced();
      const theirs = await invoiced();
      const before = await state();
      const naming = [
        // Another tenant's invoice, on this tenant's customer.
        { invoiceId: theirs.invoice.id, tenantId: mine.tenantId },
        // This tenant's invoice, but not the Stripe invoice billing handed over.
        { invoiceId: mine.invoice.id, tenantId: mine.tenantId },
        // Not one of billing's ids at all.
        { invoiceId: 'INV-2026-0042', tenantId: mine.tenantId },
      ];
      for (const metadata of naming) {
        const paid = await paidElsewhere(mine.customerId, metadata);
        expect(await billing.deliver(paid), metadata.invoiceId).toEqual({ status: 200, outcome: 'ignored' });
        expect(await lastWebhook()).toMatchObject({
          eventId: paid.id,
          outcome: 'ignored',
          reason: 'NOT_FOUND',
        });
      }
      expect(await state()).toEqual(before);
      // The invoice billing handed over is still paid as Stripe reports it.
      const paid = (await sim.payInvoice(mine.stripeInvoiceId)).events[0]!;
      expect(await billing.deliver(paid)).toEqual({ status: 200, outcome: 'applied' });
      expect(await invoiceOf(mine.tenantId)).toMatchObject({ status: 'paid' });
      expect(await invoiceOf(theirs.tenantId)).toMatchObject({ status: 'open' });
    });

    it('takes a payment Stripe reports before billing kept the hand-over once the hand-over is kept', async () => {
      const { tenantId } = await subscribedThisMonth();
      // Stripe is out of reach when the invoice is issued: it waits for the next hand-over.
      await sim.stop();
      try {
        expect(await billing.issuer.issue(period, admin)).toMatchObject({ issued: 1 });
      } finally {
        await sim.start();
      }
      const invoice = await invoiceOf(tenantId);
      expect(invoice).toMatchObject({ status: 'open', provider_invoice_id: null, handed_over_at: null });
      // A hand-over reached Stripe, but its record at billing has not committed (yet)…
      const lines = await linesOf(invoice.id);
      const stripeInvoiceId = await billing.provider.collect(
        {
          id: invoice.id,
          tenantId,
          period,
          currency: invoice.currency,
          totalMinor: invoice.total_minor,
          lines: lines.map((line) => ({ description: line.description, amountMinor: line.amount_minor })),
        },
        (await billing.subscriptions.get(tenantId)).account,
      );
      // …when Stripe charges the invoice and reports it: billing cannot tell it is its own yet, and
      // asks Stripe to deliver the event again later, keeping nothing of it.
      const paid = (await sim.payInvoice(stripeInvoiceId!)).events[0]!;
      const before = await state();
      await expect(billing.deliver(paid)).rejects.toMatchObject({
        extensions: { code: 'SERVICE_UNAVAILABLE' },
      });
      expect(await state()).toEqual(before);
      // The next hand-over finds Stripe's invoice (the same idempotency keys) and keeps its id…
      billing.setClock(new Date(issuedAt.getTime() + 5 * 60_000));
      expect(await billing.issuer.handOver()).toBe(1);
      expect(await invoiceOf(tenantId)).toMatchObject({ provider_invoice_id: stripeInvoiceId });
      // …and Stripe's redelivery pays it.
      expect(await billing.deliver(paid)).toEqual({ status: 200, outcome: 'applied' });
      expect(await invoiceOf(tenantId)).toMatchObject({ status: 'paid' });
    });
  });
});
