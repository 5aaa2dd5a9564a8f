import type { Logger, Principal } from '@fleet/service-kit';
import type { Quota } from './rate-limits/index.js';

/** What every operation through the gateway knows about its caller. */
export interface GatewayContext {
  principal: Principal;
  requestId: string;
  logger: Logger;
  /**
   * The end client's IP address, as the gateway saw it (see client-address.ts); '' when unknown.
   * Signed into every subgraph call, for aaa's brute-force counters.
   */
  clientAddress: string;
  /** For an API key restricted to registered operations: their SHA-256 digests (hex); else null. */
  trustedDocuments: ReadonlySet<string> | null;
  /** When the request must be done (milliseconds since the epoch): later subgraph calls fail. */
  deadline: number;
  /** The rate-limit budgets the request has spent from so far, for the RateLimit headers. */
  quotas: Quota[];
}

/** Who the request's log lines are about: ids only. */
export function callerOf(principal: Principal): Record<string, string> {
  switch (principal.kind) {
    case 'user':
      return { userId: principal.userId, sessionId: principal.sessionId };
    case 'apiKey':
      return { apiKeyId: principal.keyId };
    case 'anonymous':
      return {};
  }
}
