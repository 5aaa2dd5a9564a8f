/**
 * A local server speaking the parts of Stripe's API that billing uses, for tests that drive the
 * real `stripe` SDK over loopback: customers, Checkout sessions in subscription mode,
 * subscriptions, invoice items and invoices, and signed webhook deliveries of their events, with
 * handles to act as the customer and as Stripe's backend.
 */
export {
  startStripeSim,
  type SimEvents,
  type SimRequest,
  type StripeSim,
  type StripeSimOptions,
} from './stripe-sim.js';
export type { StripeEvent } from './event-log.js';
export type { CustomerDetails } from './resources/checkout-sessions.js';
export type { StripeObject } from './object-store.js';
export type { SubscriptionStatus } from './resources/subscriptions.js';
export type { SigningOptions, WebhookDelivery } from './webhook-delivery.js';
