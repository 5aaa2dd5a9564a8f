import { integer, producerConfigSpec, subgraphConfigSpec, type ConfigOf } from '@fleet/service-kit';

export const billingConfigSpec = {
  ...subgraphConfigSpec('billing', 4103),
  ...producerConfigSpec('billing'),
  LIFECYCLE_INTERVAL_S: integer({
    doc: 'How often billing ends the trials that are due.',
    default: 60,
    min: 1,
    max: 86_400,
  }),
};

export type BillingConfig = ConfigOf<typeof billingConfigSpec>;
