import { randomUUID } from 'node:crypto';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { signSubscription, SUBSCRIPTION_SIGNATURE_EXTENSION } from '@fleet/request-signing';
import { encodePrincipal, signedWebSocket, type Principal } from '@fleet/service-kit';
import type { SubgraphName } from '@fleet/launcher';
import type { TestFederation } from './test-federation.js';

export interface SubscriptionEvent<T> {
  data?: T | null;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
}

/** A subscription's events as they arrive, and how it ended. */
export interface OpenSubscription<T> {
  readonly events: SubscriptionEvent<T>[];
  /** Set when the server refused or ended it with an error. */
  readonly error: unknown;
  readonly completed: boolean;
  /** Settles once the server acknowledged the connection and a moment to start the operation passed. */
  readonly started: Promise<void>;
  /** Leaves; the last subscription of a client to leave closes the client too. */
  close(): Promise<void>;
}

/**
 * One connection to a subgraph, as the gateway holds one: its subscriptions, each signed for its
 * own principal, share its socket.
 */
export interface SubgraphWsClient {
  readonly client: Client;
  /** How many times a socket was opened and acknowledged: 1 while the first one lasts. */
  readonly connections: number;
  /** How many times a socket was closed. */
  readonly closes: number;
  /** What the socket reported as errors, e.g. `Unexpected server response: 401` for a refused upgrade. */
  readonly socketErrors: readonly string[];
  /** Subscribes, signed as `options` say, and collects the events (see `collect`). */
  collect<T>(
    query: string,
    variables: Record<string, unknown>,
    options: SubscribeOptions,
  ): OpenSubscription<T>;
}

/** How one subscribe is signed; by default as the gateway would, for the client's principal. */
export interface SubscribeOptions {
  /** Another end user than the client's. */
  principal?: Principal;
  /** Sign with this key instead of the gateway/subgraph pair's. */
  key?: Buffer;
  /** Send no signature at all. */
  unsigned?: boolean;
  /** Sign these variables while sending the given ones: a payload changed after signing. */
  signedVariables?: Record<string, unknown>;
}

/**
 * A graphql-ws client straight to a subgraph, as the gateway connects: the WebSocket upgrade
 * signed with the gateway/subgraph pair's key and no principal, and each subscribe signed on its
 * own for `principal` unless `collect` is told otherwise. `key` replaces the key of the upgrade
 * (to show a wrong one refused); `unsigned` sends the upgrade with no signature. The options of
 * `collect` do the same for a single subscribe.
 */
export function subgraphWsClient(
  fleet: Pick<TestFederation, 'secrets' | 'url' | 'serviceTls'>,
  service: SubgraphName,
  principal: Principal,
  options: { key?: Buffer; unsigned?: boolean } = {},
): SubgraphWsClient {
  const pairKey = Buffer.from(fleet.secrets[`gateway-${service}`], 'base64url');
  const upgradeKey = options.key ?? pairKey;
  // Over mutual TLS as the gateway, whether the upgrade is signed or not: what is tested is the
  // signature.
  const tls = fleet.serviceTls('gateway');
  class GatewayWebSocket extends WebSocket {
    constructor(address: string, protocols?: string | string[]) {
      super(address, protocols, tls.clientOptions(service));
    }
  }
  const client = createClient({
    url: `${fleet.url(service).replace('http', 'ws')}/graphql`,
    webSocketImpl: options.unsigned
      ? GatewayWebSocket
      : signedWebSocket({ caller: 'gateway', audience: service, key: upgradeKey, path: '/graphql', tls }),
    retryAttempts: 0,
    lazy: true,
  });
  const state = { connections: 0, closes: 0, open: 0 };
  const socketErrors: string[] = [];
  client.on('connected', () => state.connections++);
  client.on('closed', () => state.closes++);
  client.on('error', (error) => socketErrors.push(String((error as { message?: unknown }).message)));

  const signature = (query: string, variables: Record<string, unknown>, subscribe: SubscribeOptions) =>
    subscribe.unsigned
      ? {}
      : {
          extensions: {
            [SUBSCRIPTION_SIGNATURE_EXTENSION]: signSubscription({
              caller: 'gateway',
              audience: service,
              key: subscribe.key ?? pairKey,
              payload: { query, variables: subscribe.signedVariables ?? variables },
              principal: encodePrincipal(subscribe.principal ?? principal),
              requestId: `test-${randomUUID()}`,
              now: Date.now(),
            }),
          },
        };

  return {
    client,
    get connections() {
      return state.connections;
    },
    get closes() {
      return state.closes;
    },
    socketErrors,
    collect<T>(query: string, variables: Record<string, unknown>, subscribe: SubscribeOptions) {
      const events: SubscriptionEvent<T>[] = [];
      const connected = state.connections > state.closes;
      const started = new Promise<void>((resolve) => {
        if (connected) setTimeout(resolve, 200);
        else client.on('connected', () => setTimeout(resolve, 200));
      });
      const outcome = { error: undefined as unknown, completed: false, closed: false };
      state.open++;
      const unsubscribe = client.subscribe<T>(
        { query, variables, ...signature(query, variables, subscribe) },
        {
          next: (event) => events.push(event as SubscriptionEvent<T>),
          error: (error) => {
            outcome.error = error;
          },
          complete: () => {
            outcome.completed = true;
          },
        },
      );
      return {
        events,
        get error() {
          return outcome.error;
        },
        get completed() {
          return outcome.completed;
        },
        started,
        async close() {
          if (outcome.closed) return;
          outcome.closed = true;
          unsubscribe();
          if (--state.open === 0) await client.dispose();
        },
      };
    },
  };
}

/**
 * Subscribes on the client's connection and collects the events; `close` leaves, and the last
 * subscription of a client to leave disposes of it.
 */
export function collect<T>(
  connection: SubgraphWsClient,
  query: string,
  variables: Record<string, unknown> = {},
  options: SubscribeOptions = {},
): OpenSubscription<T> {
  return connection.collect<T>(query, variables, options);
}
