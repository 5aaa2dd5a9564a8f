import type { PlanRow } from '../plans/plan-catalog.js';

/** The providers billing can collect with; `manual` is the embedded default. */
export const PAYMENT_PROVIDERS = ['manual', 'stripe'] as const;
export type PaymentProviderName = (typeof PAYMENT_PROVIDERS)[number];

/** An issued invoice, as a provider needs it to collect the amount. */
export interface InvoiceToCollect {
  id: string;
  tenantId: string;
  period: string;
  currency: string;
  totalMinor: number;
  lines: readonly { description: string; amountMinor: number }[];
}

/** The provider's references of a tenant: ids only, never a name, an email or card data. */
export interface ProviderAccount {
  customerId: string | null;
  subscriptionId: string | null;
}

/**
 * Where billing's money comes from. Billing computes every invoice itself; a provider only
 * collects it, and holds whatever a payment needs (cards, bank details) on its side.
 * One folder per provider, with the same file names: `manual/manual-provider.ts`,
 * `stripe/stripe-provider.ts`.
 */
export interface PaymentProvider {
  readonly name: PaymentProviderName;
  /**
   * Opens the provider's hosted page where the tenant's owner subscribes to a paid plan and
   * leaves a means of payment. Answers the page and the provider's customer id (made on first
   * use). A provider without such a page refuses with a BadUserInputError.
   */
  startCheckout(input: {
    tenantId: string;
    plan: PlanRow;
    account: ProviderAccount;
    trialDays: number;
  }): Promise<{ sessionId: string; url: string; customerId: string }>;
  /**
   * Hands an issued invoice to the provider. Answers the provider's id of it, or null when
   * nobody but an admin collects it (then an admin marks it paid).
   */
  collect(invoice: InvoiceToCollect, account: ProviderAccount): Promise<string | null>;
  /** Ends the provider's side of a subscription the tenant canceled with billing. */
  cancel(account: ProviderAccount): Promise<void>;
}
