import { GraphQLError } from 'graphql';
import type { Principal } from '@fleet/service-kit';
import type { RevocationSnapshot } from '../authentication/revocation-feed.js';
import type { SubscriptionConfig } from './subscription-config.js';

/** Why a subscriber's credential stopped being good: its subscriptions end with it. */
export type CredentialEnd = 'token-expired' | 'session-revoked' | 'api-key-expired' | 'api-key-revoked';

/** An authenticated client of subscriptions: a WebSocket connection, or one SSE request. */
export interface SubscriberConnection {
  readonly principal: Principal;
  /** Counts one more subscription; a refusal (SUBSCRIPTION_LIMIT) says which cap it reached. */
  admit(): GraphQLError | undefined;
  /** One of its subscriptions ended. */
  release(): void;
  /** The connection ended: everything it held is released. */
  disconnect(): void;
}

interface Connection extends SubscriberConnection {
  readonly expiresAt: number;
  readonly onEnd: (end: CredentialEnd) => void;
}

const SWEEP_MS = 1_000;

/**
 * Who holds subscriptions, and how many: the caps per person or API key, per tenant and per
 * process, and the lifetime of each connection's credential. A connection ends, with the reason,
 * when its access token or API key expires, or when its session or key is revoked (checked
 * every second and after every revocation poll), so a credential that stopped being good never
 * keeps a stream open.
 *
 * The counts are this process's: with several gateway replicas, each applies the caps to what it
 * serves.
 */
export class Subscribers {
  readonly #config: SubscriptionConfig;
  readonly #revocations: RevocationSnapshot;
  readonly #connections = new Set<Connection>();
  readonly #subscriptions = new Map<string, number>();
  readonly #sockets = new Map<string, number>();
  #total = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(config: SubscriptionConfig, revocations: RevocationSnapshot) {
    this.#config = config;
    this.#revocations = revocations;
  }

  /** Subscriptions held now, in all. */
  get total(): number {
    return this.#total;
  }

  start(): void {
    this.#timer = setInterval(() => this.sweep(), SWEEP_MS);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /**
   * A new connection of an authenticated principal, whose credential is good until `expiresAt`.
   * A WebSocket counts against the connections cap (an SSE request is one subscription, counted
   * as such). `onEnd` is told, once, when the credential stops being good.
   */
  connect(
    principal: Principal,
    expiresAt: number,
    transport: 'websocket' | 'sse',
    onEnd: (end: CredentialEnd) => void,
  ): SubscriberConnection | GraphQLError {
    const owner = ownerOf(principal);
    if (transport === 'websocket') {
      if ((this.#sockets.get(owner) ?? 0) >= this.#config.MAX_SUBSCRIPTION_CONNECTIONS_PER_PRINCIPAL) {
        return limitReached(
          `Too many subscription connections: at most ${this.#config.MAX_SUBSCRIPTION_CONNECTIONS_PER_PRINCIPAL} per person or API key`,
        );
      }
      increment(this.#sockets, owner, 1);
    }
    const tenant = principal.kind === 'anonymous' ? null : principal.tenantId;
    let held = 0;
    let connected = true;
    const connection: Connection = {
      principal,
      expiresAt,
      onEnd,
      admit: () => {
        const refusal = this.#refusal(owner, tenant);
        if (refusal) return refusal;
        held++;
        this.#total++;
        increment(this.#subscriptions, owner, 1);
        if (tenant) increment(this.#subscriptions, tenantKey(tenant), 1);
        return undefined;
      },
      release: () => {
        if (held === 0) return;
        held--;
        this.#total--;
        increment(this.#subscriptions, owner, -1);
        if (tenant) increment(this.#subscriptions, tenantKey(tenant), -1);
      },
      disconnect: () => {
        if (!connected) return;
        connected = false;
        while (held > 0) connection.release();
        if (transport === 'websocket') increment(this.#sockets, owner, -1);
        this.#connections.delete(connection);
      },
    };
    this.#connections.add(connection);
    return connection;
  }

  /** Ends the connections whose credential expired or was revoked. */
  sweep(): void {
    const now = Date.now();
    for (const connection of [...this.#connections]) {
      const end = this.#endOf(connection, now);
      if (!end) continue;
      connection.disconnect();
      connection.onEnd(end);
    }
  }

  #endOf(connection: Connection, now: number): CredentialEnd | undefined {
    const { principal } = connection;
    if (principal.kind === 'user') {
      if (this.#revocations.sessionRevoked(principal.sessionId)) return 'session-revoked';
      if (connection.expiresAt <= now) return 'token-expired';
    }
    if (principal.kind === 'apiKey') {
      if (this.#revocations.apiKeyRevoked(principal.keyId)) return 'api-key-revoked';
      if (connection.expiresAt <= now) return 'api-key-expired';
    }
    return undefined;
  }

  #refusal(owner: string, tenant: string | null): GraphQLError | undefined {
    const config = this.#config;
    if (this.#total >= config.MAX_SUBSCRIPTIONS) {
      return limitReached('The gateway serves as many subscriptions as it can; try again later');
    }
    if ((this.#subscriptions.get(owner) ?? 0) >= config.MAX_SUBSCRIPTIONS_PER_PRINCIPAL) {
      return limitReached(
        `Too many subscriptions: at most ${config.MAX_SUBSCRIPTIONS_PER_PRINCIPAL} per person or API key`,
      );
    }
    if (tenant && (this.#subscriptions.get(tenantKey(tenant)) ?? 0) >= config.MAX_SUBSCRIPTIONS_PER_TENANT) {
      return limitReached(
        `Too many subscriptions: at most ${config.MAX_SUBSCRIPTIONS_PER_TENANT} per tenant`,
      );
    }
    return undefined;
  }
}

/** What the credential ending says to the client. */
export const CREDENTIAL_END_MESSAGES: Record<CredentialEnd, string> = {
  'token-expired': 'The access token expired',
  'session-revoked': 'The session was revoked',
  'api-key-expired': 'The API key expired',
  'api-key-revoked': 'The API key was revoked',
};

function ownerOf(principal: Principal): string {
  switch (principal.kind) {
    case 'user':
      return `user:${principal.userId}`;
    case 'apiKey':
      return `apiKey:${principal.keyId}`;
    case 'anonymous':
      return 'anonymous';
  }
}

function tenantKey(tenantId: string): string {
  return `tenant:${tenantId}`;
}

function increment(counts: Map<string, number>, key: string, by: number): void {
  const next = (counts.get(key) ?? 0) + by;
  if (next <= 0) counts.delete(key);
  else counts.set(key, next);
}

function limitReached(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'SUBSCRIPTION_LIMIT' } });
}
