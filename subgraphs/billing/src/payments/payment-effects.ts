import type { Transaction } from 'kysely';
import type { EventActor } from '@fleet/outbox';
import type { BillingDatabase, SubscriptionStatus } from '../database/schema.js';
import type { PaymentProviderName } from './payment-provider.js';

/**
 * Whether a call changed anything: `ignored` when it does not apply (a tenant or an invoice
 * billing does not know, a subscription that is no longer the tenant's, a state already reached).
 */
export type EffectOutcome = 'applied' | 'ignored';

/** What every change a provider's event asks for carries. */
export interface ProviderCause {
  /** The tenant, lower case, as billing's own metadata at the provider names it. */
  tenantId: string;
  /** Who made the change: the provider (`{kind: 'system', id: 'stripe'}`). */
  actor: EventActor;
  /** The provider's id of the event, for the change's own outbox event. */
  eventId: string;
}

/**
 * The calls a payment provider's events make into billing's subscription and invoice code.
 * Each runs inside the transaction that records the provider's event (`provider_event`) and
 * must make its change, and record its own outbox event, with `trx`: the event is then applied
 * exactly once or not at all. A call refuses what billing refuses (a BadUserInputError, a
 * ConflictError…): nothing it did stays, and the event is recorded as ignored. Any other error
 * rolls everything back and the provider delivers the event again later.
 */
export interface PaymentEffects {
  /**
   * The tenant's payment agreement exists at the provider (a Checkout completed): remember its
   * customer and subscription ids on the tenant's subscription. The same ids again change nothing.
   */
  attachProvider(
    trx: Transaction<BillingDatabase>,
    change: ProviderCause & { provider: PaymentProviderName; customerId: string; subscriptionId: string },
  ): Promise<EffectOutcome>;
  /**
   * Puts the tenant on the plan it subscribed to through the provider's page (with its trial,
   * when the tenant has not had one). The plan it is on already changes nothing.
   */
  changePlan(
    trx: Transaction<BillingDatabase>,
    change: ProviderCause & { planId: string },
  ): Promise<EffectOutcome>;
  /**
   * The provider's subscription is now in `status`. Ignored unless `subscriptionId` is the
   * tenant's current one (an older agreement's news, or one not attached yet, change nothing).
   * `trialEndsAt` is set while trialing.
   */
  setStatus(
    trx: Transaction<BillingDatabase>,
    change: ProviderCause & { subscriptionId: string; status: SubscriptionStatus; trialEndsAt: Date | null },
  ): Promise<EffectOutcome>;
  /**
   * The provider collected billing's invoice `invoiceId` (its own id of it: `providerInvoiceId`)
   * at `paidAt`.
   */
  markInvoicePaid(
    trx: Transaction<BillingDatabase>,
    change: ProviderCause & { invoiceId: string; providerInvoiceId: string; paidAt: Date },
  ): Promise<EffectOutcome>;
}
