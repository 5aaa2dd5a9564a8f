import { producerConfigSpec, subgraphConfigSpec, type ConfigOf } from '@fleet/service-kit';

export const aaaConfigSpec = {
  ...subgraphConfigSpec('aaa', 4101),
  ...producerConfigSpec('aaa'),
};

export type AaaConfig = ConfigOf<typeof aaaConfigSpec>;
