import {
  integer,
  producerConfigSpec,
  signingKey,
  subgraphConfigSpec,
  url,
  type ConfigOf,
} from '@fleet/service-kit';

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
  DEVICES_URL: url({
    doc: "Base URL of the devices service, which billing tells each tenant's device quota (its plan's).",
    default: 'http://127.0.0.1:4102',
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
