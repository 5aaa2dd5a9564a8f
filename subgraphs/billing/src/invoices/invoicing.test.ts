import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BadUserInputError, createLogger, type Engine } from '@fleet/service-kit';
import {
  openBillingTestDatabase,
  type BillingTestDatabase,
} from '../../../../test/support/billing-database.js';
import { postgresSuiteEnabled } from '../../../../test/support/postgres.js';
import type { BillingDatabase } from '../database/schema.js';
import { manualProvider } from '../payments/manual/manual-provider.js';
import type { InvoiceToCollect, PaymentProvider } from '../payments/payment-provider.js';
import { BILLING_ACTOR, Subscriptions } from '../subscriptions/subscriptions.js';
import { UsageMeter } from '../usage/usage-meter.js';
import { InvoiceIssuer } from './invoice-issuer.js';
import { InvoicePayments } from './invoice-payments.js';

/**
 * Issuing invoices from the stored plan segments and device presence, on a real database with
 * the real subscription lifecycle and billing's clock in the test's hands; paying them; and the
 * tenant's standing when they are not paid.
 */

const engines: { engine: Engine; enabled: boolean }[] = [
  { engine: 'pglite', enabled: true },
  { engine: 'postgres', enabled: await postgresSuiteEnabled() },
];

const DAY = 86_400_000;
const logger = createLogger({ service: 'test', level: 'silent' });
const admin = { kind: 'user' as const, id: randomUUID() };

/** The provider at the boundary: takes invoices, or fails while it is down. */
class CollectingProvider implements PaymentProvider {
  readonly name = 'manual' as const;
  readonly collected: InvoiceToCollect[] = [];
  down = false;
  startCheckout(): never {
    throw new Error('not used');
  }
  collect(invoice: InvoiceToCollect): Promise<string | null> {
    if (this.down) return Promise.reject(new Error('the provider is down'));
    this.collected.push(invoice);
    return Promise.resolve(`in_${invoice.id.slice(0, 8)}`);
  }
  cancel(): Promise<void> {
    return Promise.resolve();
  }
}

describe.each(engines)('invoicing on $engine', ({ engine, enabled }) => {
  let billing: BillingTestDatabase;
  let clock = new Date('2026-04-01T00:00:00Z');
  const now = () => clock;
  let subscriptions: Subscriptions;
  let events = 0;

  beforeAll(async () => {
    if (!enabled) return;
    billing = await openBillingTestDatabase(engine);
    subscriptions = new Subscriptions({
      db: billing.database.db,
      provider: manualProvider,
      entitlements: { enforce: () => Promise.resolve(), notify: () => undefined },
      onEvent: () => undefined,
      now,
    });
  });
  afterAll(async () => {
    await billing?.close();
  });

  const db = () => billing.database.db;
  const issuerWith = (providers: PaymentProvider[] = [manualProvider]) =>
    new InvoiceIssuer({
      db: db(),
      subscriptions,
      // Presence is read from the table the meter keeps; this meter is never polled.
      presence: new UsageMeter({ db: db(), feed: { after: () => Promise.resolve([]) }, now }),
      providers: new Map(providers.map((p) => [p.name, p])),
      dueDays: 14,
      onEvent: () => events++,
      logger,
      now,
    });
  const payments = () =>
    new InvoicePayments({ db: db(), subscriptions, onEvent: () => events++, logger, now });

  /** A tenant that had its trial already, on `planId` from `at`. */
  async function tenantOn(planId: string, at: string): Promise<string> {
    const tenantId = randomUUID();
    await db()
      .insertInto('subscription')
      .values({
        tenant_id: tenantId,
        plan_id: 'free',
        status: 'active',
        provider: 'manual',
        trial_used: true,
      })
      .execute();
    clock = new Date(at);
    await subscriptions.changePlan(tenantId, planId, admin, 'caller');
    return tenantId;
  }

  async function device(tenantId: string, from: string, until: string | null = null): Promise<void> {
    await db()
      .insertInto('device_presence')
      .values({
        device_id: randomUUID(),
        tenant_id: tenantId,
        present_from: new Date(from),
        present_until: until === null ? null : new Date(until),
      })
      .execute();
  }

  const invoiceOf = (tenantId: string, period: string) =>
    db()
      .selectFrom('invoice')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('period', '=', period)
      .executeTakeFirst();
  const linesOf = (invoiceId: string) =>
    db()
      .selectFrom('invoice_line')
      .select(['line_no', 'kind', 'plan_id', 'quantity', 'unit_amount_minor', 'amount_minor'])
      .where('invoice_id', '=', invoiceId)
      .orderBy('line_no')
      .execute();
  const eventsOf = (aggregateId: string) =>
    db()
      .selectFrom('outbox')
      .select(['event_type', 'payload', 'tenant_id', 'actor'])
      .where('aggregate_id', '=', aggregateId)
      .orderBy('sequence')
      .execute();
  const count = async (table: 'invoice' | 'outbox' | 'invoice_line') =>
    Number(
      (
        await db()
          .selectFrom(table as keyof BillingDatabase)
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );
  const standingOf = async (tenantId: string) => (await subscriptions.get(tenantId)).status;

  describe.skipIf(!enabled)('issuing', () => {
    it('issues a closed month once per tenant, from its segments and devices, with its lines and its event', async () => {
      // Pro from the 1st, Enterprise from noon on the 11th (worked out in invoice-lines.test.ts).
      const paying = await tenantOn('pro', '2026-04-01T00:00:00Z');
      clock = new Date('2026-04-11T12:00:00Z');
      await subscriptions.changePlan(paying, 'enterprise', admin, 'caller');
      await device(paying, '2026-01-01T00:00:00Z');
      await device(paying, '2026-02-01T00:00:00Z', '2026-06-01T00:00:00Z');
      await device(paying, '2026-04-11T13:00:00Z', '2026-04-12T01:00:00Z');
      // On the free plan, never subscribed, with a device: a void invoice.
      const free = randomUUID();
      await device(free, '2026-04-20T00:00:00Z', '2026-04-21T00:00:00Z');
      // Trialing all month: a void invoice.
      clock = new Date('2026-04-01T00:00:00Z');
      const trialing = randomUUID();
      await subscriptions.changePlan(trialing, 'pro', admin, 'caller');
      // Subscribed after the month: nothing.
      const later = await tenantOn('pro', '2026-05-02T00:00:00Z');

      clock = new Date('2026-05-01T00:05:00Z');
      const issuer = issuerWith();
      const result = await issuer.issue('2026-04', admin);
      expect(result.period).toBe('2026-04');
      expect(result.issued).toBeGreaterThanOrEqual(3);

      const invoice = (await invoiceOf(paying, '2026-04'))!;
      expect(invoice).toMatchObject({
        status: 'open',
        currency: 'EUR',
        total_minor: 1_715 + 115 + 64_935 + 117,
        issued_at: clock,
        due_at: new Date(clock.getTime() + 14 * DAY),
        paid_at: null,
        provider: 'manual',
        provider_invoice_id: null,
        // The manual provider took it, with no id of its own.
        handed_over_at: clock,
      });
      expect(await linesOf(invoice.id)).toEqual([
        {
          line_no: 1,
          kind: 'plan_fee',
          plan_id: 'pro',
          quantity: 907_200,
          unit_amount_minor: 4_900,
          amount_minor: 1_715,
        },
        {
          line_no: 2,
          kind: 'device_usage',
          plan_id: 'pro',
          quantity: 23,
          unit_amount_minor: 5,
          amount_minor: 115,
        },
        {
          line_no: 3,
          kind: 'plan_fee',
          plan_id: 'enterprise',
          quantity: 1_684_800,
          unit_amount_minor: 99_900,
          amount_minor: 64_935,
        },
        {
          line_no: 4,
          kind: 'device_usage',
          plan_id: 'enterprise',
          quantity: 39,
          unit_amount_minor: 3,
          amount_minor: 117,
        },
      ]);
      expect(await eventsOf(invoice.id)).toEqual([
        {
          event_type: 'invoice.issued',
          tenant_id: paying,
          actor: admin,
          payload: {
            id: invoice.id,
            tenantId: paying,
            period: '2026-04',
            currency: 'EUR',
            totalMinor: 66_882,
          },
        },
      ]);

      for (const tenant of [free, trialing]) {
        const voided = (await invoiceOf(tenant, '2026-04'))!;
        expect(voided).toMatchObject({
          status: 'void',
          total_minor: 0,
          currency: 'EUR',
          handed_over_at: null,
        });
        expect((await eventsOf(voided.id)).map((e) => e.event_type)).toEqual(['invoice.voided']);
      }
      expect(await linesOf((await invoiceOf(free, '2026-04'))!.id)).toEqual([]);
      expect(await invoiceOf(later, '2026-04')).toBeUndefined();

      // Again, by an admin or by the worker at the start of the month: nothing new.
      const before = {
        invoices: await count('invoice'),
        lines: await count('invoice_line'),
        outbox: await count('outbox'),
      };
      clock = new Date('2026-05-01T01:00:00Z');
      expect(await issuer.issue('2026-04', admin)).toEqual({ period: '2026-04', issued: 0 });
      expect(await issuer.issueLastMonth()).toEqual({ period: '2026-04', issued: 0 });
      expect({
        invoices: await count('invoice'),
        lines: await count('invoice_line'),
        outbox: await count('outbox'),
      }).toEqual(before);
    });

    it('refuses a malformed period, and one not over yet, issuing nothing', async () => {
      await tenantOn('pro', '2026-06-03T00:00:00Z');
      clock = new Date('2026-06-30T23:59:59Z');
      const issuer = issuerWith();
      const before = await count('invoice');
      for (const period of ['2026-6', '2026-13', '2026-00', '0099-01', 'june', '2026-06-01', ''])
        await expect(issuer.issue(period, admin)).rejects.toThrow(
          new BadUserInputError('period must be a month written YYYY-MM, e.g. 2026-03', 'period'),
        );
      for (const period of ['2026-06', '2026-07', '2031-01'])
        await expect(issuer.issue(period, admin)).rejects.toThrow(
          `${period} is not over yet: a month is invoiced once it has ended (the last one is 2026-05)`,
        );
      expect(await count('invoice')).toBe(before);
    });

    it('hands each open invoice to its provider once, again after a failure, and keeps its id', async () => {
      const tenantId = await tenantOn('pro', '2026-07-01T00:00:00Z');
      const provider = new CollectingProvider();
      provider.down = true;
      clock = new Date('2026-08-01T00:00:00Z');
      const issuer = issuerWith([provider]);
      await issuer.issue('2026-07', BILLING_ACTOR);
      const invoice = (await invoiceOf(tenantId, '2026-07'))!;
      expect(invoice).toMatchObject({ status: 'open', handed_over_at: null, provider_invoice_id: null });
      // Held by the run that failed for a while: not asked again at once.
      expect(await issuer.handOver()).toBe(0);

      provider.down = false;
      clock = new Date('2026-08-01T00:05:00Z');
      expect(await issuer.handOver()).toBeGreaterThanOrEqual(1);
      expect(await invoiceOf(tenantId, '2026-07')).toMatchObject({
        handed_over_at: clock,
        provider_invoice_id: `in_${invoice.id.slice(0, 8)}`,
      });
      const collected = provider.collected.filter((c) => c.id === invoice.id);
      expect(collected).toEqual([
        {
          id: invoice.id,
          tenantId,
          period: '2026-07',
          currency: 'EUR',
          totalMinor: 4_900,
          lines: [
            { description: 'Plan pro, 2026-07-01 00:00:00 to 2026-08-01 00:00:00 UTC', amountMinor: 4_900 },
            {
              description: 'Device-days on plan pro, 2026-07-01 00:00:00 to 2026-08-01 00:00:00 UTC',
              amountMinor: 0,
            },
          ],
        },
      ]);
      clock = new Date('2026-08-01T01:00:00Z');
      await issuer.handOver();
      expect(provider.collected.filter((c) => c.id === invoice.id)).toHaveLength(1);
    });

    it('leaves out a tenant whose month mixes two currencies, and issues the others', async () => {
      await db()
        .insertInto('plan')
        .values({
          id: 'pro-usd',
          name: 'Pro (USD)',
          device_quota: 100,
          rate_limit_tier: 'standard',
          price_minor: 5_000,
          device_day_price_minor: 5,
          currency: 'USD',
          trial_days: 0,
          available: true,
        })
        .execute();
      const mixed = randomUUID();
      const segment = { tenant_id: mixed, billable: true, device_day_price_minor: 5 };
      await db()
        .insertInto('plan_segment')
        .values([
          {
            ...segment,
            starts_at: new Date('2026-09-01T00:00:00Z'),
            ends_at: new Date('2026-09-10T00:00:00Z'),
            plan_id: 'pro',
            price_minor: 4_900,
            currency: 'EUR',
          },
          {
            ...segment,
            starts_at: new Date('2026-09-10T00:00:00Z'),
            ends_at: null,
            plan_id: 'pro-usd',
            price_minor: 5_000,
            currency: 'USD',
          },
        ])
        .execute();
      const plain = await tenantOn('pro', '2026-09-05T00:00:00Z');
      clock = new Date('2026-10-01T00:00:00Z');
      const { issued } = await issuerWith().issue('2026-09', BILLING_ACTOR);
      expect(issued).toBeGreaterThanOrEqual(1);
      expect(await invoiceOf(mixed, '2026-09')).toBeUndefined();
      expect(await invoiceOf(plain, '2026-09')).toMatchObject({ status: 'open', currency: 'EUR' });
    });
  });

  describe.skipIf(!enabled)('payments and due dates', () => {
    /** A tenant on Pro for the whole of `month`, with its invoice issued at the start of the next. */
    async function openInvoice(
      month: string,
      next: string,
      tenantId?: string,
    ): Promise<{ tenantId: string; id: string }> {
      const tenant = tenantId ?? (await tenantOn('pro', `${month}-01T00:00:00Z`));
      clock = new Date(`${next}-01T00:00:00Z`);
      await issuerWith().issue(month, BILLING_ACTOR);
      return { tenantId: tenant, id: (await invoiceOf(tenant, month))!.id };
    }

    it('records a manual payment once, and refuses an unknown, void, paid or otherwise collected invoice', async () => {
      const { tenantId, id } = await openInvoice('2026-10', '2026-11');
      const stripeTenant = await tenantOn('pro', '2026-10-01T00:00:00Z');
      await db()
        .updateTable('subscription')
        .set({ provider: 'stripe', provider_customer_id: `cus_${stripeTenant.slice(0, 8)}` })
        .where('tenant_id', '=', stripeTenant)
        .execute();
      const voidTenant = randomUUID();
      await device(voidTenant, '2026-10-05T00:00:00Z', '2026-10-06T00:00:00Z');
      clock = new Date('2026-11-01T00:00:00Z');
      await issuerWith().issue('2026-10', BILLING_ACTOR);
      const stripeInvoice = (await invoiceOf(stripeTenant, '2026-10'))!;
      expect(stripeInvoice).toMatchObject({ provider: 'stripe', status: 'open', handed_over_at: null });
      const voidInvoice = (await invoiceOf(voidTenant, '2026-10'))!;

      const before = { outbox: await count('outbox'), events };
      const pay = payments();
      await expect(pay.markPaid(randomUUID(), admin)).rejects.toThrow('Invoice not found');
      await expect(pay.markPaid('not-an-id', admin)).rejects.toThrow('Invoice not found');
      await expect(pay.markPaid(voidInvoice.id, admin)).rejects.toThrow(
        'This invoice is void: it has nothing to pay',
      );
      await expect(pay.markPaid(stripeInvoice.id, admin)).rejects.toThrow(
        'This invoice is collected by stripe: its payment is recorded when stripe reports it',
      );
      expect({ outbox: await count('outbox'), events }).toEqual(before);
      expect((await invoiceOf(stripeTenant, '2026-10'))!.status).toBe('open');

      clock = new Date('2026-11-03T09:00:00Z');
      const paid = await pay.markPaid(id.toUpperCase(), admin);
      expect(paid).toMatchObject({ id, status: 'paid', paid_at: clock });
      expect((await eventsOf(id)).map((e) => [e.event_type, e.payload])).toEqual([
        ['invoice.issued', { id, tenantId, period: '2026-10', currency: 'EUR', totalMinor: 4_900 }],
        ['invoice.paid', { id, tenantId, period: '2026-10', currency: 'EUR', totalMinor: 4_900 }],
      ]);
      await expect(pay.markPaid(id, admin)).rejects.toThrow(
        'This invoice was paid already, on 2026-11-03T09:00:00.000Z',
      );
      expect((await eventsOf(id)).length).toBe(2);
    });

    it('puts a tenant past due once an invoice passes its due date, and back in good standing once all are paid', async () => {
      const first = await openInvoice('2026-11', '2026-12');
      const second = await openInvoice('2026-12', '2027-01', first.tenantId);
      const pay = payments();
      // The first invoice was issued on 2026-12-01 and is due 14 days later: not past it yet.
      clock = new Date('2026-12-15T00:00:00Z');
      await pay.enforceDueDates();
      expect(await standingOf(first.tenantId)).toBe('active');

      clock = new Date('2027-01-20T00:00:00Z');
      await pay.enforceDueDates();
      expect(await standingOf(first.tenantId)).toBe('past_due');
      // Again: no second change.
      const eventsBefore = (await eventsOf(first.tenantId)).length;
      await pay.enforceDueDates();
      expect((await eventsOf(first.tenantId)).length).toBe(eventsBefore);

      // One of two overdue invoices paid: still past due.
      await pay.markPaid(first.id, admin);
      expect(await standingOf(first.tenantId)).toBe('past_due');
      await pay.enforceDueDates();
      expect(await standingOf(first.tenantId)).toBe('past_due');
      await pay.markPaid(second.id, admin);
      expect(await standingOf(first.tenantId)).toBe('active');
      expect((await eventsOf(first.tenantId)).slice(-2).map((e) => [e.event_type, e.actor])).toEqual([
        ['subscription.past_due', BILLING_ACTOR],
        ['subscription.reactivated', admin],
      ]);
      expect(
        await db().selectFrom('overdue_tenant').selectAll().where('tenant_id', '=', first.tenantId).execute(),
      ).toEqual([]);
    });

    it('puts back in good standing only the tenants it put past due', async () => {
      const tenantId = await tenantOn('pro', '2027-02-01T00:00:00Z');
      clock = new Date('2027-02-10T00:00:00Z');
      // Past due for another reason (the provider failed to collect), with nothing overdue here.
      await subscriptions.setStanding(tenantId, 'past_due', BILLING_ACTOR);
      await payments().enforceDueDates();
      expect(await standingOf(tenantId)).toBe('past_due');
    });
  });
});
