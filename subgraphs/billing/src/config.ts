import {
  integer,
  oneOf,
  producerConfigSpec,
  secretText,
  signingKey,
  subgraphConfigSpec,
  url,
  type ConfigOf,
} from '@fleet/service-kit';
import { PAYMENT_PROVIDERS } from './payments/payment-provider.js';

export const billingConfigSpec = {
  ...subgraphConfigSpec('billing', 4103),
  ...producerConfigSpec('billing'),
  LIFECYCLE_INTERVAL_S: integer({
    doc: 'How often billing ends the trials that are due.',
    default: 60,
    min: 1,
    max: 86_400,
  }),
  USAGE_POLL_INTERVAL_S: integer({
    doc: "How often billing reads devices' new events from audit's feed to meter device-days.",
    default: 30,
    min: 1,
    max: 3_600,
  }),
  INVOICE_INTERVAL_S: integer({
    doc: "How often billing issues the last month's invoices not issued yet, hands them to the payment provider and checks due dates.",
    default: 3_600,
    min: 1,
    max: 86_400,
  }),
  INVOICE_DUE_DAYS: integer({
    doc: 'Days an invoice is due after it is issued; past that, the tenant is past due until it is paid.',
    default: 14,
    min: 1,
    max: 365,
  }),
  PAYMENT_PROVIDER: oneOf(PAYMENT_PROVIDERS, {
    doc: 'Who collects the invoices billing issues: `manual` (an admin records each payment) or `stripe`.',
    default: 'manual',
  }),
  STRIPE_SECRET_KEY: secretText({
    doc: 'Secret (or restricted) API key of the Stripe account (stripe provider).',
  }),
  STRIPE_WEBHOOK_SECRET: secretText({
    doc: "Signing secret of the Stripe webhook endpoint, `whsec_…`: the gateway's POST /webhooks/stripe (stripe provider).",
  }),
  STRIPE_API_URL: url({
    doc: "Where billing reaches Stripe's API, e.g. https://api.stripe.com; https, except on the loopback interface (stripe provider).",
    optional: true,
  }),
  STRIPE_SUCCESS_URL: url({
    doc: "Where Stripe Checkout sends the tenant's owner back after subscribing (stripe provider).",
    optional: true,
  }),
  STRIPE_CANCEL_URL: url({
    doc: "Where Stripe Checkout sends the tenant's owner back who gave up (stripe provider).",
    optional: true,
  }),
  STRIPE_WEBHOOK_TOLERANCE_S: integer({
    doc: "Oldest a Stripe webhook's signature may be, in seconds: older deliveries are refused as replays.",
    default: 300,
    min: 1,
    max: 3_600,
  }),
  STRIPE_TIMEOUT_MS: integer({
    doc: 'Longest one call to Stripe may take (the SDK retries twice on network failures).',
    default: 8_000,
    min: 100,
    max: 120_000,
  }),
  DEVICES_URL: url({
    doc: "Base URL of the devices service, which billing tells each tenant's device quota (its plan's).",
    default: 'https://127.0.0.1:4102',
  }),
  KEY_DEVICES: signingKey(
    "Key of the billing/devices pair: billing signs the entitlements it pushes with it, devices its questions about a tenant's plan (base64url, 32 bytes).",
  ),
  ENTITLEMENT_SYNC_INTERVAL_S: integer({
    doc: 'How often billing pushes the entitlements devices has not acknowledged yet (besides right after each change), retrying those devices could not take.',
    default: 10,
    min: 1,
    max: 3_600,
  }),
};

export type BillingConfig = ConfigOf<typeof billingConfigSpec>;
