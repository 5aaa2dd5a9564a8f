import { applyMiddleware } from 'graphql-middleware';
import { createOutboxRelay } from '@fleet/outbox';
import { startSubgraph, type Logger, type StartedService } from '@fleet/service-kit';
import { permissions } from './access/permissions.js';
import type { DevicesConfig } from './config.js';
import { migrations } from './database/migrations.js';
import type { DevicesDatabase } from './database/schema.js';
import { DeviceRegistry } from './registry/device-registry.js';
import { resolvers, type DevicesContext } from './resolvers.js';

export function startDevices(config: DevicesConfig, logger: Logger): Promise<StartedService> {
  return startSubgraph<DevicesDatabase, DevicesContext>({
    name: 'devices',
    config,
    logger,
    migrations,
    schema: new URL('../schema.graphql', import.meta.url),
    resolvers,
    wrapSchema: (schema) => applyMiddleware(schema, permissions),
    setup: (db) => {
      const relay = createOutboxRelay(db, 'devices', config, logger);
      const devices = new DeviceRegistry(db, () => relay.notify());
      return { context: (request) => ({ devices, request }), workers: [relay] };
    },
  });
}
