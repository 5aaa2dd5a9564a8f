import { createOutboxRelay } from '@fleet/outbox';
import { startSubgraph, type Logger, type StartedService } from '@fleet/service-kit';
import type { AaaConfig } from './config.js';
import { migrations } from './database/migrations.js';
import type { AaaDatabase } from './database/schema.js';
import { resolvers, type AaaContext } from './resolvers.js';
import { TenantDirectory } from './tenants/tenant-directory.js';

export function startAaa(config: AaaConfig, logger: Logger): Promise<StartedService> {
  return startSubgraph<AaaDatabase, AaaContext>({
    name: 'aaa',
    config,
    logger,
    migrations,
    schema: new URL('../schema.graphql', import.meta.url),
    resolvers,
    setup: (db) => {
      const relay = createOutboxRelay(db, 'aaa', config, logger);
      const directory = new TenantDirectory(db, () => relay.notify());
      return { context: (request) => ({ directory, request }), workers: [relay] };
    },
  });
}
