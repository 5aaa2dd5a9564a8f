import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { EventActor } from '@fleet/outbox';
import { BadUserInputError, type Logger } from '@fleet/service-kit';
import type { BillingDatabase } from '../database/schema.js';
import type { PaymentProvider } from '../payments/payment-provider.js';
import { FREE_PLAN_ID } from '../plans/plan-catalog.js';
import { monthBounds, monthOf } from '../subscriptions/billing-month.js';
import { BILLING_ACTOR } from '../subscriptions/subscriptions.js';
import { DAY_MS, type MonthBounds, type PresenceInterval } from '../usage/device-days.js';
import {
  invoiceLines,
  MixedCurrencyError,
  OverlappingSegmentsError,
  type PlanSegment,
} from './invoice-lines.js';
import { recordInvoiceEvent, type InvoiceRow } from './invoice-store.js';
import { monthOfText } from './month-text.js';
import type { SubscriptionStanding } from './subscription-standing.js';

/** The last month that is over at `now`. */
export function lastClosedMonth(now: Date): string {
  return monthOf(new Date(monthBounds(now).start.getTime() - 1));
}

/** How long a replica may take to hand one invoice to its provider before another may try. */
const HAND_OVER_HOLD_MS = 120_000;
const HAND_OVER_BATCH = 100;

export interface InvoiceIssuerOptions {
  db: Kysely<BillingDatabase>;
  subscriptions: SubscriptionStanding;
  /** Where a tenant's devices were, from the usage meter. */
  presence: { presenceOf(tenantId: string, bounds: MonthBounds): Promise<PresenceInterval[]> };
  /** The providers by name; an invoice goes to its tenant's. */
  providers: ReadonlyMap<string, PaymentProvider>;
  /** Days from issue to due date. */
  dueDays: number;
  /** After a commit that recorded events. */
  onEvent: () => void;
  logger: Logger;
  now?: () => Date;
}

/**
 * Issues the invoices of a closed month: one for every tenant with a plan segment or a
 * device-day in it, computed from the stored segments and presence, each once (a tenant has
 * one invoice a month: running again issues only what is missing). A total of zero is void.
 * An invoice, its lines and its event commit together; then it is handed to its tenant's
 * provider, and the provider's id kept.
 */
export class InvoiceIssuer {
  readonly #options: InvoiceIssuerOptions;
  readonly #now: () => Date;

  constructor(options: InvoiceIssuerOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => new Date());
  }

  /** Issues the period's missing invoices; refuses a malformed period, or one not over yet. */
  async issue(period: string, actor: EventActor): Promise<{ period: string; issued: number }> {
    const bounds = monthOfText(period);
    if (!bounds)
      throw new BadUserInputError('period must be a month written YYYY-MM, e.g. 2026-03', 'period');
    if (bounds.end.getTime() > this.#now().getTime())
      throw new BadUserInputError(
        `${period} is not over yet: a month is invoiced once it has ended (the last one is ${lastClosedMonth(this.#now())})`,
        'period',
      );
    let issued = 0;
    for (const tenantId of await this.#tenantsToInvoice(period, bounds)) {
      if (await this.#issueOne(tenantId, period, bounds, actor)) issued++;
    }
    if (issued > 0) {
      this.#options.onEvent();
      await this.handOver();
    }
    return { period, issued };
  }

  /** Issues the last closed month's missing invoices: the worker's run at the start of a month. */
  async issueLastMonth(): Promise<{ period: string; issued: number }> {
    return this.issue(lastClosedMonth(this.#now()), BILLING_ACTOR);
  }

  /**
   * Hands every open invoice not handed over yet to its provider, and keeps the provider's id.
   * A provider that fails is asked again at the next run; each invoice is held by one replica
   * at a time. Answers how many were handed over.
   */
  async handOver(): Promise<number> {
    const { db, providers, subscriptions, logger } = this.#options;
    const now = this.#now();
    const claimed = await db
      .updateTable('invoice')
      .set({ handing_over_until: new Date(now.getTime() + HAND_OVER_HOLD_MS) })
      .where('id', 'in', (eb) =>
        eb
          .selectFrom('invoice')
          .select('id')
          .where('status', '=', 'open')
          .where('handed_over_at', 'is', null)
          .where((w) => w.or([w('handing_over_until', 'is', null), w('handing_over_until', '<', now)]))
          .orderBy('issued_at')
          .limit(HAND_OVER_BATCH)
          .forUpdate()
          .skipLocked(),
      )
      .where('handed_over_at', 'is', null)
      .returningAll()
      .execute();
    let handed = 0;
    for (const invoice of claimed) {
      const provider = providers.get(invoice.provider);
      if (!provider) {
        logger.warn(
          { invoiceId: invoice.id, provider: invoice.provider },
          'no payment provider of this name: the invoice waits',
        );
        continue;
      }
      try {
        const lines = await db
          .selectFrom('invoice_line')
          .select(['description', 'amount_minor'])
          .where('invoice_id', '=', invoice.id)
          .orderBy('line_no')
          .execute();
        const { account } = await subscriptions.get(invoice.tenant_id);
        const providerInvoiceId = await provider.collect(
          {
            id: invoice.id,
            tenantId: invoice.tenant_id,
            period: invoice.period,
            currency: invoice.currency,
            totalMinor: invoice.total_minor,
            lines: lines.map((line) => ({ description: line.description, amountMinor: line.amount_minor })),
          },
          account,
        );
        await db
          .updateTable('invoice')
          .set({
            provider_invoice_id: providerInvoiceId,
            handed_over_at: this.#now(),
            handing_over_until: null,
          })
          .where('id', '=', invoice.id)
          .execute();
        handed++;
      } catch (error) {
        logger.warn(
          { err: error, invoiceId: invoice.id },
          'could not hand the invoice to its provider; will retry',
        );
      }
    }
    return handed;
  }

  /** Tenants with a segment or a device-day in the month and no invoice of it yet. */
  async #tenantsToInvoice(period: string, bounds: MonthBounds): Promise<string[]> {
    const { rows } = await sql<{ tenant_id: string }>`
      select tenant_id from plan_segment
      where starts_at < ${bounds.end} and (ends_at is null or ends_at > ${bounds.start})
      union
      select tenant_id from device_presence
      where present_from < ${bounds.end} and (present_until is null or present_until > ${bounds.start})
        and (present_until is null or present_until > present_from)
      except
      select tenant_id from invoice where period = ${period}
      order by tenant_id`.execute(this.#options.db);
    return rows.map((row) => row.tenant_id);
  }

  /** Issues one tenant's invoice of the month; false when it was there already, or cannot be made. */
  async #issueOne(
    tenantId: string,
    period: string,
    bounds: MonthBounds,
    actor: EventActor,
  ): Promise<boolean> {
    const { db, logger, presence, subscriptions, dueDays } = this.#options;
    const segments = await db
      .selectFrom('plan_segment')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('starts_at', '<', bounds.end)
      .where((eb) => eb.or([eb('ends_at', 'is', null), eb('ends_at', '>', bounds.start)]))
      .execute();
    const devices = await presence.presenceOf(tenantId, bounds);
    let computed;
    try {
      computed = invoiceLines(
        period,
        segments.map((s): PlanSegment => ({
          planId: s.plan_id,
          startsAt: s.starts_at,
          endsAt: s.ends_at,
          billable: s.billable,
          priceMinor: s.price_minor,
          deviceDayPriceMinor: s.device_day_price_minor,
          currency: s.currency,
        })),
        devices,
      );
    } catch (error) {
      if (!(error instanceof MixedCurrencyError || error instanceof OverlappingSegmentsError)) throw error;
      logger.error({ tenantId, period, reason: error.message }, 'cannot invoice this tenant for the month');
      return false;
    }
    const currency = computed.currency ?? (await this.#freeCurrency());
    const { provider } = await subscriptions.get(tenantId);
    const issuedAt = this.#now();
    const invoice: InvoiceRow = {
      id: randomUUID(),
      tenant_id: tenantId,
      period,
      status: computed.totalMinor > 0 ? 'open' : 'void',
      currency,
      total_minor: computed.totalMinor,
      issued_at: issuedAt,
      due_at: new Date(issuedAt.getTime() + dueDays * DAY_MS),
      paid_at: null,
      provider,
      provider_invoice_id: null,
      handed_over_at: null,
      handing_over_until: null,
    };
    return db.transaction().execute(async (trx) => {
      const inserted = await trx
        .insertInto('invoice')
        .values(invoice)
        .onConflict((oc) => oc.columns(['tenant_id', 'period']).doNothing())
        .returning('id')
        .executeTakeFirst();
      // Another run (a replica, an admin) issued it meanwhile.
      if (!inserted) return false;
      if (computed.lines.length > 0) {
        await trx
          .insertInto('invoice_line')
          .values(
            computed.lines.map((line, index) => ({
              invoice_id: invoice.id,
              line_no: index + 1,
              kind: line.kind === 'PLAN_FEE' ? ('plan_fee' as const) : ('device_usage' as const),
              description: line.description,
              plan_id: line.planId,
              period_start: line.periodStart,
              period_end: line.periodEnd,
              quantity: line.quantity,
              unit_amount_minor: line.unitAmountMinor,
              amount_minor: line.amountMinor,
            })),
          )
          .execute();
      }
      await recordInvoiceEvent(
        trx,
        invoice,
        invoice.status === 'void' ? 'invoice.voided' : 'invoice.issued',
        actor,
      );
      return true;
    });
  }

  async #freeCurrency(): Promise<string> {
    const free = await this.#options.db
      .selectFrom('plan')
      .select('currency')
      .where('id', '=', FREE_PLAN_ID)
      .executeTakeFirstOrThrow();
    return free.currency;
  }
}
