import type { EventActor } from '@fleet/outbox';
import type { ProviderAccount } from '../payments/payment-provider.js';

/**
 * What invoicing needs of the subscription code, and no more (`Subscriptions` has it):
 * who collects a tenant's invoices, and moving a subscription between active and past due.
 */
export interface SubscriptionStanding {
  /** The tenant's provider (by name) and its ids there, also for a tenant never subscribed. */
  get(tenantId: string): Promise<{ provider: string; account: ProviderAccount }>;
  /**
   * Puts the tenant's subscription past due (an invoice is overdue) or back in good standing
   * (none is any more). Asking for the status it has changes nothing; the subscription code
   * decides what a status means for a trial, a canceled or a free subscription.
   */
  setStanding(tenantId: string, status: 'active' | 'past_due', actor: EventActor): Promise<unknown>;
}
