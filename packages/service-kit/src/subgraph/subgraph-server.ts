import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import { ApolloServer } from '@apollo/server';
import {
  ApolloServerPluginInlineTraceDisabled,
  ApolloServerPluginLandingPageDisabled,
  ApolloServerPluginUsageReportingDisabled,
} from '@apollo/server/plugin/disabled';
import { buildSubgraphSchema } from '@apollo/subgraph';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper/index.js';
import type { DocumentNode, GraphQLSchema } from 'graphql';
import { maskError } from '../errors/errors.js';
import { executeGraphQL } from '../http/graphql-http.js';
import {
  closeGracefully,
  createHttpServer,
  HttpError,
  listen,
  pathnameOf,
  readBody,
  sendJson,
} from '../http/http-server.js';
import { SignatureCheck, type SignedRequest } from '../http/signed-requests.js';
import type { Logger } from '../logging/logger.js';
import type { MutualTls } from '../tls/mutual-tls.js';
import { attachSubscriptionServer } from './subscription-server.js';

/** A signed endpoint besides /graphql, such as audit's ingest. */
export interface SignedRoute {
  /** The callers this endpoint accepts, with their keys. */
  keys: ReadonlyMap<string, Buffer>;
  handle(request: SignedRequest, body: Buffer, res: ServerResponse): Promise<void>;
}

export interface SubgraphServerOptions<C extends object> {
  /** The subgraph's name, which is the audience its callers sign for. */
  name: string;
  logger: Logger;
  typeDefs: DocumentNode;
  resolvers: GraphQLResolverMap<C>;
  /** The key of the gateway/this-subgraph pair: the only key /graphql accepts. */
  gatewayKey: Buffer;
  maxBodyBytes: number;
  /** Wraps the built schema, e.g. with the subgraph's authorization rules. */
  wrapSchema?: (schema: GraphQLSchema) => GraphQLSchema;
  /** Builds the resolvers' context from a verified request. */
  context(request: SignedRequest): C;
  /** Further signed POST endpoints by path. */
  routes?: Record<string, SignedRoute>;
  /** Serve the schema's subscriptions over graphql-ws on /graphql (signed upgrades and subscriptions). */
  subscriptions?: boolean;
  /**
   * Serve HTTPS only, to clients whose certificates name one of this server's callers (the
   * gateway, each route's, and the service itself for its health check); undefined serves plain
   * HTTP, which only a configuration that turned mutual TLS off explicitly asks for.
   */
  tls?: MutualTls | undefined;
}

export interface SubgraphServer {
  readonly http: Server;
  start(host: string, port: number): Promise<number>;
  stop(): Promise<void>;
}

/**
 * A subgraph's HTTP face. Every endpoint but /healthz answers only signed requests: /graphql
 * those of the gateway, other routes those of the callers they name. The signature is checked
 * before anything else happens, introspection and `_service` included. Over mutual TLS, a
 * connection from a service that calls none of them is refused before that, and a signature
 * counts only from the service the connection proved.
 */
export function createSubgraphServer<C extends object>(options: SubgraphServerOptions<C>): SubgraphServer {
  const { logger } = options;
  const built = buildSubgraphSchema([{ typeDefs: options.typeDefs, resolvers: options.resolvers }]);
  const schema = options.wrapSchema ? options.wrapSchema(built) : built;
  const apollo = new ApolloServer<C>({
    schema,
    // Only the gateway can reach this server, and it plans from the composed supergraph.
    introspection: true,
    csrfPrevention: true,
    // The process's own shutdown stops this server, after the HTTP server has drained.
    stopOnTerminationSignals: false,
    includeStacktraceInErrorResponses: false,
    formatError: (formatted, error) => {
      const masked = maskError(formatted);
      if (masked.extensions?.code === 'INTERNAL_SERVER_ERROR') {
        logger.error({ err: error, path: formatted.path }, 'resolver failed');
      }
      return masked;
    },
    // No traces to the gateway: they would tell a caller how long each resolver took.
    plugins: [
      ApolloServerPluginLandingPageDisabled(),
      ApolloServerPluginUsageReportingDisabled(),
      ApolloServerPluginInlineTraceDisabled(),
    ],
  });
  const signatures = new SignatureCheck({
    audience: options.name,
    logger,
    mutualTls: options.tls !== undefined,
  });
  const gatewayKeys = new Map([['gateway', options.gatewayKey]]);

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = pathnameOf(req);
    if (path === '/healthz' && req.method === 'GET') {
      sendJson(res, 200, { status: 'ok' });
      return;
    }
    const route = path === '/graphql' ? undefined : options.routes?.[path];
    if (path !== '/graphql' && !route) throw new HttpError(404, 'Not found');
    const body = await readBody(req, options.maxBodyBytes);
    const request = signatures.check(req, body, route ? route.keys : gatewayKeys);
    const started = performance.now();
    res.once('finish', () => {
      request.logger.info(
        { method: req.method, path, status: res.statusCode, ms: Math.round(performance.now() - started) },
        'request',
      );
    });
    if (route) {
      if (req.method !== 'POST') throw new HttpError(405, 'Only POST is accepted here');
      await route.handle(request, body, res);
      return;
    }
    await executeGraphQL(apollo, req, res, body, () => Promise.resolve(options.context(request)));
  };

  const http = createHttpServer(handle, logger, options.tls?.serverOptions());
  if (options.tls) {
    // The gateway, each route's callers, and the service itself (its health check).
    const routeCallers = Object.values(options.routes ?? {}).flatMap((route) => [...route.keys.keys()]);
    const callers = new Set(['gateway', options.name, ...routeCallers]);
    options.tls.guard(http as HttpsServer, callers);
  }
  const subscriptions = options.subscriptions
    ? attachSubscriptionServer<C>({
        http,
        schema,
        signatures,
        keys: gatewayKeys,
        logger,
        context: (request) => options.context(request),
      })
    : undefined;
  return {
    http,
    async start(host, port) {
      await apollo.start();
      const bound = await listen(http, host, port);
      logger.info({ host, port: bound }, 'listening');
      return bound;
    },
    async stop() {
      await subscriptions?.close();
      await closeGracefully(http, 10_000);
      await apollo.stop();
    },
  };
}
