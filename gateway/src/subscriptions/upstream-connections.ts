import type { FormattedExecutionResult } from 'graphql';
import { createClient, type Client, type Sink } from 'graphql-ws';
import {
  signSubscription,
  SUBSCRIPTION_SIGNATURE_EXTENSION,
  type SubscriptionPayload,
} from '@fleet/request-signing';
import { signedWebSocket, type MutualTls } from '@fleet/service-kit';

export interface UpstreamEndpoint {
  /** The subgraph's GraphQL URL (https:, or http: without mutual TLS), whose path serves graphql-ws too. */
  url: string;
  /** The key of the gateway/subgraph pair. */
  key: Buffer;
  /** The gateway's mutual TLS; undefined only where it was turned off. */
  tls: MutualTls | undefined;
}

/** On whose behalf a subscription runs on a subgraph. */
export interface UpstreamIdentity {
  /** The subscriber's principal, encoded as it is signed (encodePrincipal). */
  principal: string;
  requestId: string;
  clientAddress: string;
}

/** What a subgraph sends for one event: a GraphQL response. */
export type UpstreamEvent = FormattedExecutionResult<Record<string, unknown>>;

/**
 * The gateway's graphql-ws connections to the subgraphs: one per subgraph, carrying every
 * subscription to it. The WebSocket upgrade is signed with the subgraph's own key (the
 * connection is the gateway's), and each subscription carries its subscriber's principal,
 * signed with the same key over the whole operation, so that one socket serves many people.
 *
 * A connection opens with its first subscription and closes a while after its last. Lost
 * connections are not retried here: each subscription fails, and its owner subscribes again
 * (with a fresh signature) after a pause of its own.
 */
export class UpstreamConnections {
  readonly #endpoints: ReadonlyMap<string, UpstreamEndpoint>;
  readonly #clients = new Map<string, Client>();
  readonly #keepAliveMs: number;

  constructor(endpoints: ReadonlyMap<string, UpstreamEndpoint>, keepAliveMs: number) {
    this.#endpoints = endpoints;
    this.#keepAliveMs = keepAliveMs;
  }

  /** Opens `payload` on `subgraph`; the returned function leaves it. */
  subscribe(
    subgraph: string,
    payload: SubscriptionPayload,
    identity: UpstreamIdentity,
    sink: Sink<UpstreamEvent>,
  ): () => void {
    const endpoint = this.#endpoints.get(subgraph);
    if (!endpoint) throw new Error(`No endpoint for the subgraph ${subgraph}`);
    const signature = signSubscription({
      caller: 'gateway',
      audience: subgraph,
      key: endpoint.key,
      payload,
      principal: identity.principal,
      requestId: identity.requestId,
      clientAddress: identity.clientAddress,
      now: Date.now(),
    });
    return this.#client(subgraph, endpoint).subscribe<Record<string, unknown>>(
      {
        query: payload.query,
        operationName: payload.operationName ?? null,
        variables: payload.variables ?? {},
        extensions: { [SUBSCRIPTION_SIGNATURE_EXTENSION]: signature },
      },
      sink,
    );
  }

  async close(): Promise<void> {
    const clients = [...this.#clients.values()];
    this.#clients.clear();
    await Promise.all(clients.map((client) => Promise.resolve(client.dispose())));
  }

  #client(subgraph: string, endpoint: UpstreamEndpoint): Client {
    let client = this.#clients.get(subgraph);
    if (client) return client;
    const target = new URL(endpoint.url);
    const path = target.pathname + target.search;
    target.protocol = target.protocol === 'https:' ? 'wss:' : 'ws:';
    client = createClient({
      url: target.toString(),
      webSocketImpl: signedWebSocket({
        caller: 'gateway',
        audience: subgraph,
        key: endpoint.key,
        path,
        tls: endpoint.tls,
      }),
      lazy: true,
      // A connection lives on a while after its last subscription: clients come and go.
      lazyCloseTimeout: 10_000,
      keepAlive: this.#keepAliveMs,
      // Lost connections fail their subscriptions, which come back on their own schedule.
      retryAttempts: 0,
      shouldRetry: () => false,
    });
    this.#clients.set(subgraph, client);
    return client;
  }
}
