import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper/index.js';
import type { GraphQLSchema } from 'graphql';
import type { Kysely, Migration } from 'kysely';
import type { ConfigOf } from '../config/config.js';
import type { subgraphConfigSpec } from '../config/service-config.js';
import { openDatabase } from '../database/open-database.js';
import type { SignedRequest } from '../http/signed-requests.js';
import type { Logger } from '../logging/logger.js';
import { mutualTlsFromConfig } from '../tls/mutual-tls-config.js';
import type { MutualTls } from '../tls/mutual-tls.js';
import type { StartedService } from '../service/run-service.js';
import { loadSchemaFile } from './schema-file.js';
import { createSubgraphServer, type SignedRoute } from './subgraph-server.js';

export type SubgraphConfig = ConfigOf<ReturnType<typeof subgraphConfigSpec>>;

/** Work a service runs beside its server, such as an outbox relay. */
export interface BackgroundWorker {
  start(): void;
  stop(): Promise<void>;
}

export interface SubgraphParts<C extends object> {
  context(request: SignedRequest): C;
  routes?: Record<string, SignedRoute>;
  workers?: BackgroundWorker[];
}

export interface SubgraphServiceOptions<DB, C extends object> {
  name: string;
  config: SubgraphConfig;
  logger: Logger;
  migrations: Record<string, Migration>;
  /** The subgraph's `.graphql` file. */
  schema: URL;
  resolvers: GraphQLResolverMap<C>;
  /** Wraps the built schema, e.g. with the subgraph's authorization rules. */
  wrapSchema?: (schema: GraphQLSchema) => GraphQLSchema;
  /** Serve the schema's subscriptions over graphql-ws (signed upgrades, and each subscription signed). */
  subscriptions?: boolean;
  /**
   * The services this one calls, by the variable that holds each one's URL (`AUDIT_URL`): over
   * mutual TLS they must be https URLs.
   */
  peerUrls?: Record<string, string | undefined>;
  /** Builds the service's parts on its freshly opened database. */
  setup(db: Kysely<DB>, peers: SubgraphPeers): SubgraphParts<C> | Promise<SubgraphParts<C>>;
}

/** How the service reaches the others. */
export interface SubgraphPeers {
  /** Its mutual TLS, for every call it makes; undefined only when explicitly turned off. */
  readonly tls: MutualTls | undefined;
}

/**
 * Starts a subgraph: opens (and migrates) its own database, serves its schema behind request
 * signatures, and runs its background workers. Stopping reverses that order: no new requests,
 * requests in flight drained, workers finished, database closed.
 */
export async function startSubgraph<DB, C extends object>(
  options: SubgraphServiceOptions<DB, C>,
): Promise<StartedService> {
  const { config, logger } = options;
  const tls = mutualTlsFromConfig(options.name, config, logger, options.peerUrls);
  const database = await openDatabase<DB>({
    url: config.DATABASE_URL,
    dataDir: config.DATA_DIR,
    migrations: options.migrations,
    logger,
  });
  let parts: SubgraphParts<C>;
  try {
    parts = await options.setup(database.db, { tls });
  } catch (error) {
    await database.close();
    await tls?.close();
    throw error;
  }
  const server = createSubgraphServer<C>({
    name: options.name,
    logger,
    typeDefs: loadSchemaFile(options.schema),
    resolvers: options.resolvers,
    gatewayKey: config.KEY_GATEWAY,
    maxBodyBytes: config.MAX_BODY_BYTES,
    ...(options.wrapSchema ? { wrapSchema: options.wrapSchema } : {}),
    context: (request) => parts.context(request),
    ...(parts.routes ? { routes: parts.routes } : {}),
    ...(options.subscriptions ? { subscriptions: true } : {}),
    tls,
  });
  const workers = parts.workers ?? [];
  const stop = async (): Promise<void> => {
    await server.stop();
    await Promise.all(workers.map((worker) => worker.stop()));
    await database.close();
    await tls?.close();
  };
  try {
    const port = await server.start(config.HOST, config.PORT);
    for (const worker of workers) worker.start();
    return { port, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
