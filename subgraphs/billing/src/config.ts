import { producerConfigSpec, subgraphConfigSpec, type ConfigOf } from '@fleet/service-kit';

export const billingConfigSpec = {
  ...subgraphConfigSpec('billing', 4103),
  ...producerConfigSpec('billing'),
};

export type BillingConfig = ConfigOf<typeof billingConfigSpec>;
