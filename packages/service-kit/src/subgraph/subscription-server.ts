import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import {
  getOperationAST,
  GraphQLError,
  OperationTypeNode,
  parse,
  validate,
  type GraphQLSchema,
} from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { BadUserInputError, maskError } from '../errors/errors.js';
import { pathnameOf } from '../http/http-server.js';
import type { SignatureCheck, SignedRequest } from '../http/signed-requests.js';
import type { Logger } from '../logging/logger.js';

export interface SubscriptionServerOptions<C extends object> {
  http: Server;
  schema: GraphQLSchema;
  signatures: SignatureCheck;
  /** The callers whose signed upgrades are accepted, with their keys. */
  keys: ReadonlyMap<string, Buffer>;
  logger: Logger;
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
 * GraphQL subscriptions over graphql-ws on the subgraph's `/graphql`. The WebSocket upgrade is
 * a signed GET like any other call of the gateway's: its signature (principal, request id,
 * client address) is checked before the socket is accepted, and an unsigned or badly signed
 * upgrade is refused with a bare 401 at the HTTP layer. Only subscriptions run here; queries and
 * mutations go over HTTP. Errors leave masked, as on HTTP.
 */
export function attachSubscriptionServer<C extends object>(
  options: SubscriptionServerOptions<C>,
): SubscriptionServer {
  const { logger } = options;
  const sockets = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024 });
  const verified = new WeakMap<IncomingMessage, SignedRequest>();

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', () => socket.destroy());
    if (pathnameOf(req) !== '/graphql') {
      refuse(socket, 404, 'Not Found');
      return;
    }
    let request: SignedRequest;
    try {
      request = options.signatures.check(req, EMPTY, options.keys);
    } catch {
      refuse(socket, 401, 'Unauthorized');
      return;
    }
    verified.set(req, request);
    sockets.handleUpgrade(req, socket, head, (ws) => sockets.emit('connection', ws, req));
  };
  options.http.on('upgrade', onUpgrade);

  const disposable = useServer(
    {
      schema: options.schema,
      onConnect: (ctx) => verified.has(ctx.extra.request),
      context: (ctx) => options.context(verified.get(ctx.extra.request)!),
      // Parsed and validated here, so that anything but a subscription is refused before it
      // runs: queries and mutations go over HTTP.
      onSubscribe: (_ctx, _id, payload) => {
        let document;
        try {
          document = parse(payload.query, { maxTokens: 5_000 });
        } catch (error) {
          return [
            coded(error instanceof GraphQLError ? error.message : 'Could not parse', 'GRAPHQL_PARSE_FAILED'),
          ];
        }
        const invalid = validate(options.schema, document);
        if (invalid.length > 0)
          return invalid.map((error) => coded(error.message, 'GRAPHQL_VALIDATION_FAILED'));
        const operation = getOperationAST(document, payload.operationName);
        if (operation?.operation !== OperationTypeNode.SUBSCRIPTION) {
          return [new BadUserInputError('Only subscriptions are served over WebSocket', 'query')];
        }
        return {
          schema: options.schema,
          document,
          operationName: payload.operationName,
          variableValues: payload.variables,
        };
      },
      onNext: (_ctx, _id, _payload, _args, result) =>
        result.errors ? { ...result, errors: result.errors.map((error) => mask(error, logger)) } : undefined,
      onError: (_ctx, _id, _payload, errors) => errors.map((error) => mask(error, logger)),
    },
    sockets,
    options.keepAliveMs ?? 12_000,
  );

  return {
    get connections() {
      return sockets.clients.size;
    },
    async close() {
      options.http.off('upgrade', onUpgrade);
      for (const client of sockets.clients) client.close(1001, 'Going away');
      await disposable.dispose();
    },
  };
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

function refuse(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}
