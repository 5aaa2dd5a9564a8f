import type { Kysely } from 'kysely';
import type { EventActor } from '@fleet/outbox';
import { ConflictError, NotFoundError, type Logger } from '@fleet/service-kit';
import type { BillingDatabase } from '../database/schema.js';
import { BILLING_ACTOR } from '../subscriptions/subscriptions.js';
import { recordInvoiceEvent, type InvoiceRow } from './invoice-store.js';
import type { SubscriptionStanding } from './subscription-standing.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface InvoicePaymentsOptions {
  db: Kysely<BillingDatabase>;
  subscriptions: SubscriptionStanding;
  onEvent: () => void;
  logger: Logger;
  now?: () => Date;
}

/**
 * Payments of invoices, and what happens when none comes: an open invoice past its due date
 * puts its tenant past due, until none of the tenant's invoices is overdue any more. Billing
 * keeps which tenants it put past due (overdue_tenant), and puts back in good standing only
 * those, so that a standing set for another reason is left to whoever set it.
 */
export class InvoicePayments {
  readonly #options: InvoicePaymentsOptions;
  readonly #now: () => Date;

  constructor(options: InvoicePaymentsOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => new Date());
  }

  /** An admin's record of a payment made outside any provider (the manual provider's invoices). */
  markPaid(invoiceId: string, actor: EventActor): Promise<InvoiceRow> {
    return this.recordPayment(invoiceId, 'manual', actor);
  }

  /**
   * Records that `provider` collected an invoice: refuses an unknown invoice, one paid or void
   * already, and one that another provider collects. The payment and its event commit together;
   * then, when no other invoice of the tenant is overdue, the tenant is back in good standing.
   */
  async recordPayment(invoiceId: string, provider: string, actor: EventActor): Promise<InvoiceRow> {
    if (!UUID.test(invoiceId)) throw new NotFoundError('Invoice');
    const paid = await this.#options.db.transaction().execute(async (trx) => {
      const invoice = await trx
        .selectFrom('invoice')
        .selectAll()
        .where('id', '=', invoiceId.toLowerCase())
        .forUpdate()
        .executeTakeFirst();
      if (!invoice) throw new NotFoundError('Invoice');
      if (invoice.status === 'paid')
        throw new ConflictError(
          `This invoice was paid already, on ${invoice.paid_at!.toISOString()}`,
          'invoiceId',
        );
      if (invoice.status === 'void')
        throw new ConflictError('This invoice is void: it has nothing to pay', 'invoiceId');
      if (invoice.provider !== provider)
        throw new ConflictError(
          `This invoice is collected by ${invoice.provider}: its payment is recorded when ${invoice.provider} reports it`,
          'invoiceId',
        );
      const updated = await trx
        .updateTable('invoice')
        .set({ status: 'paid', paid_at: this.#now() })
        .where('id', '=', invoice.id)
        .returningAll()
        .executeTakeFirstOrThrow();
      await recordInvoiceEvent(trx, updated, 'invoice.paid', actor);
      return updated;
    });
    this.#options.onEvent();
    try {
      await this.#reinstateIfSettled(paid.tenant_id, actor);
    } catch (error) {
      // The next check of due dates tries again.
      this.#options.logger.warn(
        { err: error, tenantId: paid.tenant_id },
        'could not put the tenant back in good standing; will retry',
      );
    }
    return paid;
  }

  /**
   * Puts past due every tenant with an open invoice past its due date, and back in good
   * standing every tenant billing put past due that has none any more. Answers how many of
   * each; a tenant that fails is tried again at the next run.
   */
  async enforceDueDates(): Promise<{ pastDue: number; reinstated: number }> {
    const { db, subscriptions, logger } = this.#options;
    const now = this.#now();
    const overdue = new Set(
      (
        await db
          .selectFrom('invoice')
          .select('tenant_id')
          .distinct()
          .where('status', '=', 'open')
          .where('due_at', '<', now)
          .execute()
      ).map((row) => row.tenant_id),
    );
    const held = new Set(
      (await db.selectFrom('overdue_tenant').select('tenant_id').execute()).map((row) => row.tenant_id),
    );
    let pastDue = 0;
    let reinstated = 0;
    for (const tenantId of overdue) {
      if (held.has(tenantId)) continue;
      try {
        // The standing first: should the row not follow, asking again changes nothing.
        await subscriptions.setStanding(tenantId, 'past_due', BILLING_ACTOR);
        await db
          .insertInto('overdue_tenant')
          .values({ tenant_id: tenantId, since: now })
          .onConflict((oc) => oc.column('tenant_id').doNothing())
          .execute();
        pastDue++;
      } catch (error) {
        logger.warn({ err: error, tenantId }, 'could not put the tenant past due; will retry');
      }
    }
    for (const tenantId of held) {
      if (overdue.has(tenantId)) continue;
      try {
        if (await this.#reinstateIfSettled(tenantId, BILLING_ACTOR)) reinstated++;
      } catch (error) {
        logger.warn({ err: error, tenantId }, 'could not put the tenant back in good standing; will retry');
      }
    }
    return { pastDue, reinstated };
  }

  /** Ends billing's hold on a tenant that has no overdue invoice left; true when it did. */
  async #reinstateIfSettled(tenantId: string, actor: EventActor): Promise<boolean> {
    const { db, subscriptions } = this.#options;
    const held = await db
      .selectFrom('overdue_tenant')
      .select('tenant_id')
      .where('tenant_id', '=', tenantId)
      .executeTakeFirst();
    if (!held) return false;
    const stillOverdue = await db
      .selectFrom('invoice')
      .select('id')
      .where('tenant_id', '=', tenantId)
      .where('status', '=', 'open')
      .where('due_at', '<', this.#now())
      .limit(1)
      .executeTakeFirst();
    if (stillOverdue) return false;
    await subscriptions.setStanding(tenantId, 'active', actor);
    await db.deleteFrom('overdue_tenant').where('tenant_id', '=', tenantId).execute();
    return true;
  }
}
