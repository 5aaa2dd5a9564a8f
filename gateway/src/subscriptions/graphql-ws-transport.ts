import type { IncomingMessage, Server } from 'node:http';
import { GraphQLError, type ExecutionArgs } from 'graphql';
import { CloseCode } from 'graphql-ws';
import { useServer, type Extra } from 'graphql-ws/use/ws';
import { acceptWebSockets, type Logger } from '@fleet/service-kit';
import type { PresentedCredentials, SubscriberSession, SubscriptionService } from './subscription-service.js';
import type { SubscriberStream } from './subscriber-stream.js';

export interface GraphQLWsTransportOptions {
  http: Server;
  path: string;
  service: SubscriptionService;
  /** Decides, before the upgrade, whether this client address may open one more connection. */
  admitUpgrade: (
    req: IncomingMessage,
  ) => Promise<{ ok: true; clientAddress: string } | { ok: false; status: number }>;
  maxPayloadBytes: number;
  keepAliveMs: number;
  logger: Logger;
}

export interface GraphQLWsTransport {
  readonly connections: number;
  close(): Promise<void>;
}

/** Close codes: credentials wrong, missing, expired or revoked; not checkable now; over a cap. */
const UNAUTHORIZED = CloseCode.Unauthorized;
const TRY_AGAIN_LATER = 1013;
const POLICY_VIOLATION = 1008;

interface Connection {
  clientAddress: string;
  session?: SubscriberSession;
}

/**
 * graphql-ws (the graphql-transport-ws protocol) on the gateway's GraphQL path: a thin adapter
 * between sockets and the subscription service.
 *
 * - The upgrade spends from its client address's request budget, like any HTTP request.
 * - `connection_init` carries the credentials, by the names of the HTTP headers (`authorization:
 *   "Bearer …"` or `x-api-key`), since browsers cannot set headers on a WebSocket; headers on the
 *   upgrade are read when the payload has none. Wrong or missing credentials close with 4401,
 *   credentials that cannot be checked now with 1013, a connection over its cap with 1008.
 * - When the credential expires or is revoked, the socket closes with 4401 and says which.
 * - Each subscribe is admitted by the service; a refusal is an `error` message.
 */
export function attachGraphQLWs(options: GraphQLWsTransportOptions): GraphQLWsTransport {
  const { logger } = options;
  const connections = new WeakMap<IncomingMessage, Connection>();
  const upgrades = acceptWebSockets({
    http: options.http,
    path: options.path,
    maxPayloadBytes: options.maxPayloadBytes,
    admit: async (req) => {
      try {
        const admitted = await options.admitUpgrade(req);
        if (!admitted.ok) return admitted;
        connections.set(req, { clientAddress: admitted.clientAddress });
        return { ok: true };
      } catch (error) {
        logger.error({ err: error }, 'could not admit a WebSocket upgrade');
        return { ok: false, status: 500 };
      }
    },
  });

  const connectionOf = (extra: Extra): Connection | undefined => connections.get(extra.request);

  const disposable = useServer(
    {
      onConnect: async (ctx) => {
        const connection = connectionOf(ctx.extra);
        if (!connection) return false;
        const socket = ctx.extra.socket;
        const connected = await options.service.connect(
          credentialsOf(ctx.connectionParams, ctx.extra.request),
          'websocket',
          connection.clientAddress,
          (end) => socket.close(UNAUTHORIZED, end.message),
        );
        if (!connected.ok) {
          const code =
            connected.status === 401
              ? UNAUTHORIZED
              : connected.status === 503
                ? TRY_AGAIN_LATER
                : POLICY_VIOLATION;
          socket.close(code, connected.error.message);
          return false;
        }
        connection.session = connected.session;
        // A socket that ends before its session was made is closed here too.
        if (socket.readyState !== socket.OPEN) connected.session.close();
        return true;
      },
      onSubscribe: async (ctx, _id, payload) => {
        const session = connectionOf(ctx.extra)?.session;
        if (!session) return [new GraphQLError('Unauthorized', { extensions: { code: 'UNAUTHENTICATED' } })];
        const subscribed = await session.subscribe(payload);
        if (!subscribed.ok) {
          return subscribed.errors.map(
            (error) => new GraphQLError(error.message, { extensions: error.extensions }),
          );
        }
        const args: ExecutionArgs = {
          schema: subscribed.schema,
          document: subscribed.document,
          operationName: subscribed.operationName,
          contextValue: subscribed.stream,
        };
        return args;
      },
      // The stream admitted in onSubscribe is what runs: this transport never executes itself.
      subscribe: (args) => args.contextValue as SubscriberStream as never,
      // Its events are formatted already (errors masked): they go out as they are.
      onNext: (_ctx, _id, _payload, _args, result) => result,
      onClose: (ctx) => connectionOf(ctx.extra)?.session?.close(),
    },
    upgrades.sockets,
    options.keepAliveMs,
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

/** The credentials of `connection_init`, else those of the upgrade's headers. */
function credentialsOf(
  params: Record<string, unknown> | undefined,
  request: IncomingMessage,
): PresentedCredentials {
  const fromParams: PresentedCredentials = {};
  const authorization = params?.authorization ?? params?.Authorization;
  const apiKey = params?.['x-api-key'];
  if (typeof authorization === 'string') fromParams.authorization = authorization;
  if (typeof apiKey === 'string') fromParams['x-api-key'] = apiKey;
  if (fromParams.authorization !== undefined || fromParams['x-api-key'] !== undefined) return fromParams;
  const headers: PresentedCredentials = {};
  if (typeof request.headers.authorization === 'string')
    headers.authorization = request.headers.authorization;
  if (typeof request.headers['x-api-key'] === 'string') headers['x-api-key'] = request.headers['x-api-key'];
  return headers;
}
