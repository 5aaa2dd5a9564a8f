import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { sign } from '@fleet/request-signing';
import { encodePrincipal, type Principal } from '@fleet/service-kit';
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
  close(): Promise<void>;
}

/**
 * A graphql-ws client straight to a subgraph, as the gateway connects: the WebSocket upgrade
 * signed with the gateway/subgraph pair's key, carrying `principal`. `key` replaces that key
 * (to show a wrong one refused); `unsigned` sends no signature at all.
 */
export function subgraphWsClient(
  fleet: TestFederation,
  service: SubgraphName,
  principal: Principal,
  options: { key?: Buffer; unsigned?: boolean } = {},
): Client {
  const key = options.key ?? Buffer.from(fleet.secrets[`gateway-${service}`], 'base64url');
  class SignedWebSocket extends WebSocket {
    constructor(address: string, protocols?: string | string[]) {
      const headers = options.unsigned
        ? {}
        : sign({
            caller: 'gateway',
            audience: service,
            key,
            method: 'GET',
            path: '/graphql',
            body: '',
            principal: encodePrincipal(principal),
            requestId: `test-${Math.random().toString(36).slice(2)}`,
            now: Date.now(),
          });
      super(address, protocols, { headers });
    }
  }
  return createClient({
    url: `${fleet.url(service).replace('http', 'ws')}/graphql`,
    webSocketImpl: SignedWebSocket,
    retryAttempts: 0,
    lazy: true,
  });
}

/** Subscribes and collects the events; `close` leaves. */
export function collect<T>(
  client: Client,
  query: string,
  variables: Record<string, unknown> = {},
): OpenSubscription<T> {
  const events: SubscriptionEvent<T>[] = [];
  const started = new Promise<void>((resolve) => client.on('connected', () => setTimeout(resolve, 200)));
  const state = { error: undefined as unknown, completed: false };
  const unsubscribe = client.subscribe<T>(
    { query, variables },
    {
      next: (event) => events.push(event as SubscriptionEvent<T>),
      error: (error) => {
        state.error = error;
      },
      complete: () => {
        state.completed = true;
      },
    },
  );
  return {
    events,
    get error() {
      return state.error;
    },
    get completed() {
      return state.completed;
    },
    started,
    async close() {
      unsubscribe();
      await client.dispose();
    },
  };
}
