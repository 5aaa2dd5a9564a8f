import type { IncomingMessage, Server } from 'node:http';
import {
  getOperationAST,
  GraphQLError,
  OperationTypeNode,
  parse,
  validate,
  type DocumentNode,
  type GraphQLSchema,
} from 'graphql';
import type { SubscribePayload } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { SUBSCRIPTION_SIGNATURE_EXTENSION } from '@fleet/request-signing';
import { LruCache } from '../caching/lru-cache.js';
import { BadUserInputError, maskError, UnauthenticatedError } from '../errors/errors.js';
import { HttpError } from '../http/http-server.js';
import { acceptWebSockets } from '../http/websocket-upgrades.js';
import type { SignatureCheck, SignedRequest } from '../http/signed-requests.js';
import type { Logger } from '../logging/logger.js';

export interface SubscriptionServerOptions<C extends object> {
  http: Server;
  schema: GraphQLSchema;
  signatures: SignatureCheck;
  /** The callers whose signed upgrades and subscriptions are accepted, with their keys. */
  keys: ReadonlyMap<string, Buffer>;
  logger: Logger;
  /** Builds one subscription's context from its own verified signature. */
  context(request: SignedRequest): C;
  /** Longest idle time between keep-alive pings. */
  keepAliveMs?: number;
}

export interface SubscriptionServer {
  /** Connections open now (tests and shutdown read it). */
  readonly connections: number;
  /** Ends every connection (1001, going away) and stops accepting new ones. */
  close(): Promise<void>;
}

const EMPTY = Buffer.alloc(0);

/**
 * GraphQL subscriptions over graphql-ws on the subgraph's `/graphql`.
 *
 * The gateway carries the subscriptions of many end users over one connection, so identity is
 * checked twice. The WebSocket upgrade is a signed GET like any other call of the gateway's: it
 * proves the connection is the gateway's, and an unsigned or badly signed upgrade is refused
 * with a bare 401 at the HTTP layer; the principal it carries is not used. Then every
 * `subscribe` carries its own signature in its payload's extensions, over its query, operation
 * name and variables, with the principal of the end user it runs for: it is checked before the
 * operation is even parsed, and the operation's context is built from it alone, so subscriptions
 * of different users on one connection never share an identity. A subscribe without a valid
 * signature is refused (UNAUTHENTICATED) and the connection stays open for the others.
 *
 * Only subscriptions run here; queries and mutations go over HTTP. Errors leave masked, as on
 * HTTP.
 */
export function attachSubscriptionServer<C extends object>(
  options: SubscriptionServerOptions<C>,
): SubscriptionServer {
  const { logger } = options;
  /** The caller each accepted upgrade was signed by: its subscriptions must be signed by it too. */
  const callers = new WeakMap<IncomingMessage, string>();
  const upgrades = acceptWebSockets({
    http: options.http,
    path: '/graphql',
    maxPayloadBytes: 1024 * 1024,
    admit: (req) => {
      try {
        callers.set(req, options.signatures.check(req, EMPTY, options.keys).caller);
        return { ok: true };
      } catch {
        return { ok: false, status: 401 };
      }
    },
  });

  // Every subscription of a kind sends the same document: it is parsed and validated once, and
  // one parsed copy serves them all (each would otherwise keep its own for as long as it runs).
  const documents = new LruCache<string, Checked>(1_000);

  const disposable = useServer(
    {
      schema: options.schema,
      onConnect: (ctx) => callers.has(ctx.extra.request),
      // Verified, then parsed and validated here, so that nothing unsigned is even parsed and
      // anything but a subscription is refused before it runs: queries and mutations go over
      // HTTP. The context is returned with the rest, so graphql-ws builds none of its own.
      onSubscribe: (ctx, _id, payload) => {
        const request = verifiedSubscription(options, callers.get(ctx.extra.request), payload);
        if (!request) return [new UnauthenticatedError('Unauthorized')];
        const checked = documents.getOrSet(payload.query, () =>
          parseAndValidate(options.schema, payload.query),
        );
        if (!('document' in checked)) return checked.errors;
        const { document } = checked;
        const operation = getOperationAST(document, payload.operationName);
        if (operation?.operation !== OperationTypeNode.SUBSCRIPTION) {
          return [new BadUserInputError('Only subscriptions are served over WebSocket', 'query')];
        }
        return {
          schema: options.schema,
          document,
          operationName: payload.operationName,
          variableValues: payload.variables,
          contextValue: options.context(request),
        };
      },
      onNext: (_ctx, _id, _payload, _args, result) =>
        result.errors ? { ...result, errors: result.errors.map((error) => mask(error, logger)) } : undefined,
      onError: (_ctx, _id, _payload, errors) => errors.map((error) => mask(error, logger)),
    },
    upgrades.sockets,
    options.keepAliveMs ?? 12_000,
  );

  return {
    get connections() {
      return upgrades.sockets.clients.size;
    },
    async close() {
      upgrades.close();
      await disposable.dispose();
    },
  };
}

/**
 * The subscription's own signed request, or undefined when its signature is missing, wrong, or
 * made by another caller than the connection's (the reason is logged by the check).
 */
function verifiedSubscription<C extends object>(
  options: SubscriptionServerOptions<C>,
  connectionCaller: string | undefined,
  payload: SubscribePayload,
): SignedRequest | undefined {
  let request: SignedRequest;
  try {
    request = options.signatures.checkSubscription(
      payload,
      payload.extensions?.[SUBSCRIPTION_SIGNATURE_EXTENSION],
      options.keys,
    );
  } catch (error) {
    // The check logs its refusals; anything else it threw is unexpected, and refused all the same.
    if (!(error instanceof HttpError)) {
      options.logger.warn({ err: error }, 'refused a subscription whose signature could not be checked');
    }
    return undefined;
  }
  if (request.caller !== connectionCaller) {
    options.logger.warn(
      { caller: request.caller, connectionCaller },
      "refused a subscription signed by another caller than its connection's",
    );
    return undefined;
  }
  return request;
}

type Checked = { document: DocumentNode } | { errors: GraphQLError[] };

function parseAndValidate(schema: GraphQLSchema, query: string): Checked {
  let document;
  try {
    document = parse(query, { maxTokens: 5_000 });
  } catch (error) {
    return {
      errors: [
        coded(error instanceof GraphQLError ? error.message : 'Could not parse', 'GRAPHQL_PARSE_FAILED'),
      ],
    };
  }
  const invalid = validate(schema, document);
  if (invalid.length > 0) {
    return { errors: invalid.map((error) => coded(error.message, 'GRAPHQL_VALIDATION_FAILED')) };
  }
  return { document };
}

function mask(error: GraphQLError, logger: Logger) {
  const masked = maskError(error.toJSON());
  if (masked.extensions?.code === 'INTERNAL_SERVER_ERROR') {
    logger.error({ err: error.originalError ?? error, path: error.path }, 'subscription failed');
  }
  return masked;
}

function coded(message: string, code: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code } });
}
