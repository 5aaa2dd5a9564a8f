import { NotFoundError, ServiceUnavailableError } from '@fleet/service-kit';
import type { InvoicePayments } from '../invoices/invoice-payments.js';
import type { Subscriptions } from '../subscriptions/subscriptions.js';
import type { EffectOutcome, PaymentEffects } from './payment-effects.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const outcome = (changed: boolean): EffectOutcome => (changed ? 'applied' : 'ignored');

/**
 * What a provider's events change in billing: the subscription code and the invoice payments,
 * bound to the transaction that records the event. Billing's own rules decide as for any
 * caller (a plan that does not exist, an invoice paid already…); the provider only reports.
 */
export function billingPaymentEffects(
  subscriptions: Subscriptions,
  payments: InvoicePayments,
): PaymentEffects {
  return {
    async attachProvider(trx, { tenantId, actor, customerId, subscriptionId }) {
      const { changed } = await subscriptions
        .withTransaction(trx)
        .attachProvider(tenantId, { customerId, subscriptionId }, actor);
      return outcome(changed);
    },

    async changePlan(trx, { tenantId, actor, planId }) {
      const { eventId } = await subscriptions
        .withTransaction(trx)
        .changePlan(tenantId, planId, actor, 'provider');
      return outcome(eventId !== null);
    },

    async setStatus(trx, { tenantId, actor, subscriptionId, status }) {
      const bound = subscriptions.withTransaction(trx);
      const before = await bound.get(tenantId);
      // News of an agreement that is not the tenant's current one changes nothing.
      if (before.account.subscriptionId !== subscriptionId) return 'ignored';
      let after = before;
      if (status === 'canceled') after = await bound.cancel(tenantId, actor, 'provider');
      else if (status === 'past_due') after = await bound.setStanding(tenantId, 'past_due', actor);
      else if (status === 'active') {
        if (before.status === 'trialing') return outcome((await bound.endTrialNow(tenantId, actor)).changed);
        after = await bound.setStanding(tenantId, 'active', actor);
      }
      // `trialing`: billing's own clock ends the trial it gave.
      return outcome(after.status !== before.status);
    },

    async markInvoicePaid(trx, { tenantId, actor, invoiceId, providerInvoiceId, paidAt }) {
      // Billing's invoice ids are UUIDs: anything else in the metadata names none of them.
      if (!UUID.test(invoiceId)) throw new NotFoundError('Invoice');
      const invoice = await trx
        .selectFrom('invoice')
        .select(['tenant_id', 'status', 'provider', 'provider_invoice_id'])
        .where('id', '=', invoiceId.toLowerCase())
        .executeTakeFirst();
      if (!invoice || invoice.tenant_id !== tenantId) throw new NotFoundError('Invoice');
      if (invoice.status === 'open' && invoice.provider === 'stripe' && invoice.provider_invoice_id === null)
        // Handed over, perhaps, but not recorded so yet (a hand-over under way, or one whose record
        // failed and that the next one completes): not refused for good, delivered again later.
        throw new ServiceUnavailableError(
          `Invoice ${invoiceId} is not recorded as handed over to the provider yet`,
        );
      // Billing's invoice must be the one handed to the provider, of the tenant it names.
      if (invoice.provider_invoice_id !== providerInvoiceId) throw new NotFoundError('Invoice');
      const bound = subscriptions.withTransaction(trx);
      await payments.withTransaction(trx, bound).recordPayment(invoiceId, 'stripe', actor, paidAt);
      // The provider failing to charge put the tenant past due (billing's own hold for an overdue
      // invoice is lifted by the payments): with nothing left to pay, the tenant is in good
      // standing again, whether or not the provider also reports its agreement active.
      const unpaid = await trx
        .selectFrom('invoice')
        .select('id')
        .where('tenant_id', '=', tenantId)
        .where('status', '=', 'open')
        .limit(1)
        .executeTakeFirst();
      const held = await trx
        .selectFrom('overdue_tenant')
        .select('tenant_id')
        .where('tenant_id', '=', tenantId)
        .executeTakeFirst();
      if (!unpaid && !held) await bound.setStanding(tenantId, 'active', actor);
      return 'applied';
    },
  };
}
