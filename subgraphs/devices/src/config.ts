import { producerConfigSpec, subgraphConfigSpec, type ConfigOf } from '@fleet/service-kit';

export const devicesConfigSpec = {
  ...subgraphConfigSpec('devices', 4102),
  ...producerConfigSpec('devices'),
};

export type DevicesConfig = ConfigOf<typeof devicesConfigSpec>;
