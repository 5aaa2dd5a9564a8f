import { randomUUID } from 'node:crypto';
import Stripe from 'stripe';
import { ServiceUnavailableError } from '@fleet/service-kit';
import type { InvoiceToCollect, PaymentProvider, ProviderAccount } from '../payment-provider.js';
import { stripeClient, type StripeClientOptions } from './stripe-client.js';

export interface StripeProviderOptions extends StripeClientOptions {
  /** Where Checkout sends the tenant's owner back: after subscribing, and after giving up. */
  successUrl: string;
  cancelUrl: string;
}

/** The Stripe provider. */
export interface StripeProvider extends PaymentProvider {
  readonly name: 'stripe';
}

/** Subscriptions that ended on Stripe's side: nothing is left to cancel. */
const ENDED = new Set<Stripe.Subscription.Status>(['canceled', 'incomplete_expired']);

/**
 * Collects with Stripe. The tenant's Stripe subscription is its payment agreement: made through
 * Checkout, it keeps the means of payment and the agreement's lifecycle, at a recurring price of
 * 0 named after the plan, so Stripe never computes an amount. Billing computes every invoice
 * itself and hands it over line by line, on that subscription, for Stripe to charge.
 *
 * Stripe knows the tenant by its id only (metadata `tenantId`): no name, no email. Every call
 * that creates something carries an idempotency key, derived from billing's own ids where a
 * repeated call must not create a second one (the customer, the invoice and its lines).
 */
export function createStripeProvider(options: StripeProviderOptions): StripeProvider {
  const stripe = stripeClient(options);

  return {
    name: 'stripe',

    async startCheckout({ tenantId, plan, account, trialDays }) {
      const customerId =
        account.customerId ??
        (
          await call('create the customer', () =>
            stripe.customers.create(
              { metadata: { tenantId } },
              { idempotencyKey: `fleet-customer-${tenantId}` },
            ),
          )
        ).id;
      const metadata = { tenantId, planId: plan.id };
      // A new page each time the owner asks (an abandoned one expires by itself); the key makes
      // the SDK's retries of this one call safe.
      const session = await call('open a Checkout session', () =>
        stripe.checkout.sessions.create(
          {
            mode: 'subscription',
            customer: customerId,
            client_reference_id: tenantId,
            success_url: options.successUrl,
            cancel_url: options.cancelUrl,
            line_items: [
              {
                quantity: 1,
                price_data: {
                  currency: plan.currency.toLowerCase(),
                  unit_amount: 0,
                  recurring: { interval: 'month' },
                  product_data: { name: plan.name },
                },
              },
            ],
            metadata,
            subscription_data: { metadata, ...(trialDays > 0 ? { trial_period_days: trialDays } : {}) },
          },
          { idempotencyKey: `fleet-checkout-${tenantId}-${randomUUID()}` },
        ),
      );
      if (!session.url) throw new Error(`Stripe answered Checkout session ${session.id} without a URL`);
      return { sessionId: session.id, url: session.url, customerId };
    },

    async collect(invoice, account) {
      const { customerId, subscriptionId } = account;
      // Nothing to charge.
      if (invoice.lines.length === 0 || invoice.totalMinor === 0) return null;
      // Stripe charges through the tenant's payment agreement; until it has one, the invoice waits.
      if (!customerId || !subscriptionId) {
        throw new Error(
          `Tenant ${invoice.tenantId} has no payment agreement with Stripe to collect invoice ${invoice.id}`,
        );
      }
      const currency = invoice.currency.toLowerCase();
      for (const [index, line] of invoice.lines.entries()) {
        await call('add an invoice line', () =>
          stripe.invoiceItems.create(
            {
              customer: customerId,
              subscription: subscriptionId,
              amount: line.amountMinor,
              currency,
              description: line.description,
              metadata: { invoiceId: invoice.id },
            },
            { idempotencyKey: `fleet-invoice-${invoice.id}-line-${index}` },
          ),
        );
      }
      const draft = await call('create the invoice', () =>
        stripe.invoices.create(
          {
            customer: customerId,
            subscription: subscriptionId,
            collection_method: 'charge_automatically',
            currency,
            description: `Fleet ${invoice.period}`,
            metadata: { invoiceId: invoice.id, tenantId: invoice.tenantId },
            pending_invoice_items_behavior: 'include',
            // Stripe would finalize a draft by itself within the hour: only a checked one is.
            auto_advance: false,
          },
          { idempotencyKey: `fleet-invoice-${invoice.id}` },
        ),
      );
      checkDraft(draft, invoice);
      if (draft.status === 'draft') {
        await call('finalize the invoice', () =>
          stripe.invoices.finalizeInvoice(
            draft.id,
            { auto_advance: true },
            { idempotencyKey: `fleet-invoice-${invoice.id}-finalize` },
          ),
        );
      }
      return draft.id;
    },

    async cancel(account: ProviderAccount) {
      const { subscriptionId } = account;
      if (!subscriptionId) return;
      const current = await call('read the subscription', () =>
        stripe.subscriptions.retrieve(subscriptionId),
      );
      if (ENDED.has(current.status)) return;
      await call('cancel the subscription', () => stripe.subscriptions.cancel(subscriptionId));
    },
  };
}

/**
 * Stripe's draft must be billing's invoice exactly: its lines, its total. Anything else (a
 * pending item left by another call, a changed amount) stays a draft, unfinalized and uncharged.
 */
function checkDraft(draft: Stripe.Invoice, invoice: InvoiceToCollect): void {
  const foreign = draft.lines.data.filter((line) => line.metadata?.invoiceId !== invoice.id);
  if (
    draft.currency !== invoice.currency.toLowerCase() ||
    draft.total !== invoice.totalMinor ||
    draft.lines.data.length !== invoice.lines.length ||
    foreign.length > 0
  ) {
    throw new Error(
      `Stripe's draft ${draft.id} is not invoice ${invoice.id} (${draft.lines.data.length} lines, ${draft.total} ${draft.currency}; expected ${invoice.lines.length} lines, ${invoice.totalMinor} ${invoice.currency}): left unfinalized`,
    );
  }
}

/**
 * A call to Stripe. Stripe out of reach (network, its own errors, rate limits) is a
 * ServiceUnavailableError the caller may retry; any other refusal is a fault of this code,
 * reported by Stripe's error type and code only (never a key, never a payload).
 */
async function call<T>(what: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (!(error instanceof Stripe.errors.StripeError)) throw error;
    if (
      error instanceof Stripe.errors.StripeConnectionError ||
      error instanceof Stripe.errors.StripeAPIError ||
      error instanceof Stripe.errors.StripeRateLimitError
    ) {
      throw new ServiceUnavailableError('The payment provider cannot be reached now; try again in a moment');
    }
    throw new Error(
      `Stripe refused to ${what}: ${error.type}${error.code ? ` ${error.code}` : ''}${error.param ? ` (${error.param})` : ''}`,
    );
  }
}
