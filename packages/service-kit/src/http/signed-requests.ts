import type { IncomingMessage } from 'node:http';
import { tlsIdentityOf } from '../tls/mutual-tls.js';
import {
  MemoryReplayGuard,
  verify,
  verifySubscription,
  type ReplayGuard,
  type SubscriptionPayload,
  type VerifyResult,
} from '@fleet/request-signing';
import { decodePrincipal, type Principal } from '../identity/principal.js';
import type { Logger } from '../logging/logger.js';
import { HttpError } from './http-server.js';

/** What a verified request tells about its origin. */
export interface SignedRequest {
  /** The service that signed the call. */
  caller: string;
  /** The end user on whose behalf it calls, as the gateway established. */
  principal: Principal;
  requestId: string;
  /**
   * The end client's IP address as the gateway saw it, signed with the rest; '' when there is
   * none (a service's own call) or it is unknown. For brute-force counters, never for trust.
   */
  clientAddress: string;
  /** A logger bound to this request's id. */
  logger: Logger;
}

export interface SignatureCheckOptions {
  /** This service's name: the audience callers sign for. */
  audience: string;
  logger: Logger;
  maxSkewMs?: number;
  replayGuard?: ReplayGuard;
  /**
   * Requests arrive over mutual TLS: a signature counts only from the service whose certificate
   * the connection proved, so a leaked key alone cannot speak for its service.
   */
  mutualTls?: boolean;
}

/**
 * Checks the signature of every request a service receives. Each endpoint names the callers it
 * accepts and their keys; a refusal is a bare 401, whatever the reason, and the reason is logged.
 */
export class SignatureCheck {
  readonly #audience: string;
  readonly #logger: Logger;
  readonly #maxSkewMs: number;
  readonly #replayGuard: ReplayGuard;
  readonly #mutualTls: boolean;

  constructor(options: SignatureCheckOptions) {
    this.#audience = options.audience;
    this.#logger = options.logger;
    this.#maxSkewMs = options.maxSkewMs ?? 60_000;
    this.#replayGuard =
      options.replayGuard ??
      new MemoryReplayGuard({ retentionMs: 2 * this.#maxSkewMs, maxEntries: 2_000_000 });
    this.#mutualTls = options.mutualTls ?? false;
  }

  check(req: IncomingMessage, body: Buffer, keys: ReadonlyMap<string, Buffer>): SignedRequest {
    const result = verify({
      audience: this.#audience,
      keys,
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      body,
      headers: req.headers,
      now: Date.now(),
      maxSkewMs: this.#maxSkewMs,
      replayGuard: this.#replayGuard,
    });
    if (!result.ok) {
      this.#logger.warn(
        { reason: result.reason, path: req.url, remote: req.socket.remoteAddress },
        'refused an unsigned or badly signed request',
      );
      throw new HttpError(401, 'Unauthorized');
    }
    if (this.#mutualTls) {
      const proven = tlsIdentityOf(req.socket);
      if (proven !== result.caller) {
        this.#logger.warn(
          { caller: result.caller, certificate: proven, path: req.url, remote: req.socket.remoteAddress },
          'refused a request signed for one service over the connection of another',
        );
        throw new HttpError(401, 'Unauthorized');
      }
    }
    return this.#accepted(result);
  }

  /**
   * Checks the signature a GraphQL subscription carries in its own payload, apart from the
   * connection it arrives on: one connection of the gateway's carries many end users'
   * subscriptions. Refused as `check` refuses, and with the same replay guard.
   */
  checkSubscription(
    payload: SubscriptionPayload,
    signature: unknown,
    keys: ReadonlyMap<string, Buffer>,
  ): SignedRequest {
    const result = verifySubscription({
      audience: this.#audience,
      keys,
      payload,
      signature,
      now: Date.now(),
      maxSkewMs: this.#maxSkewMs,
      replayGuard: this.#replayGuard,
    });
    if (!result.ok) {
      this.#logger.warn({ reason: result.reason }, 'refused an unsigned or badly signed subscription');
      throw new HttpError(401, 'Unauthorized');
    }
    return this.#accepted(result);
  }

  #accepted(result: Extract<VerifyResult, { ok: true }>): SignedRequest {
    const principal = decodePrincipal(result.principal);
    if (!principal) {
      this.#logger.warn({ caller: result.caller }, 'refused a signed request with an unreadable principal');
      throw new HttpError(401, 'Unauthorized');
    }
    return {
      caller: result.caller,
      principal,
      requestId: result.requestId,
      clientAddress: result.clientAddress,
      logger: this.#logger.child({ requestId: result.requestId, caller: result.caller }),
    };
  }
}
