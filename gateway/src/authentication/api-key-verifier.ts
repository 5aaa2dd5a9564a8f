import { createHash } from 'node:crypto';
import type { Logger } from '@fleet/service-kit';
import { jsonAnswer, postToAaa, type AaaEndpoint } from './aaa-internal-calls.js';

/** The shape every API key must have before aaa is asked about it. */
export const API_KEY_SHAPE = /^[A-Za-z0-9_-]{1,200}$/;

export type ApiKeyCheck =
  | {
      status: 'valid';
      keyId: string;
      tenantId: string;
      scopes: string[];
      /** The operations the key may run (SHA-256 hex of their text), or null for any. */
      documents: ReadonlySet<string> | null;
      /** When the key expires (milliseconds since the epoch): a subscription ends then. */
      expiresAt: number;
    }
  | { status: 'invalid'; reason: 'malformed' | 'unknown' | 'expired' | 'revoked' }
  /** aaa could not answer, and nothing is cached: the caller is neither let in nor turned away. */
  | { status: 'unavailable' };

export interface ApiKeyVerifierOptions {
  aaa: AaaEndpoint;
  logger: Logger;
  /** Whether the revocation feed names the key as revoked; checked on every use, cached or not. */
  isRevoked: (keyId: string) => boolean;
  /** Longest a valid answer is reused (never past the key's expiry). */
  positiveTtlMs?: number;
  /** Longest an invalid answer is reused. */
  negativeTtlMs?: number;
  maxEntries?: number;
  timeoutMs?: number;
  /** The clock, in milliseconds since the epoch (tests set it). */
  now?: () => number;
}

type CachedCheck = Extract<ApiKeyCheck, { status: 'valid' } | { status: 'invalid' }>;

interface CacheEntry {
  check: CachedCheck;
  until: number;
}

/**
 * Checks partner API keys with aaa, which holds them (as peppered digests), and caches the
 * answers briefly so that a partner's steady traffic costs aaa one call per key every few
 * seconds.
 *
 * - Entries are keyed by the SHA-256 of the key: the gateway never holds a key it is not
 *   using. Valid answers live 15 s at most (never past the key's expiry), invalid ones 5 s, and
 *   at most 10,000 entries are kept (the oldest go first).
 * - Concurrent checks of one key share a single call to aaa.
 * - A key revoked in aaa reaches the gateway through the revocation feed, which evicts it here;
 *   `isRevoked` is asked on every use as well, so an answer that was on its way during the
 *   eviction cannot bring the key back.
 * - When aaa cannot answer and nothing is cached, the answer is `unavailable`: the request is
 *   refused (fail closed), with 503 rather than 401, since the key may well be good.
 */
export class ApiKeyVerifier {
  readonly #options: Required<Omit<ApiKeyVerifierOptions, 'aaa' | 'logger' | 'isRevoked'>>;
  readonly #aaa: AaaEndpoint;
  readonly #logger: Logger;
  readonly #isRevoked: (keyId: string) => boolean;
  readonly #cache = new Map<string, CacheEntry>();
  readonly #inFlight = new Map<string, Promise<ApiKeyCheck>>();
  readonly #closing = new AbortController();

  constructor(options: ApiKeyVerifierOptions) {
    this.#aaa = options.aaa;
    this.#logger = options.logger;
    this.#isRevoked = options.isRevoked;
    this.#options = {
      positiveTtlMs: options.positiveTtlMs ?? 15_000,
      negativeTtlMs: options.negativeTtlMs ?? 5_000,
      maxEntries: options.maxEntries ?? 10_000,
      timeoutMs: options.timeoutMs ?? 3_000,
      now: options.now ?? Date.now,
    };
  }

  /** Entries held: for tests and metrics. */
  get size(): number {
    return this.#cache.size;
  }

  async verify(key: string): Promise<ApiKeyCheck> {
    if (!API_KEY_SHAPE.test(key)) return { status: 'invalid', reason: 'malformed' };
    const digest = createHash('sha256').update(key).digest('base64url');
    const cached = this.#cache.get(digest);
    let check: ApiKeyCheck;
    if (cached && cached.until > this.#options.now()) {
      check = cached.check;
    } else {
      if (cached) this.#cache.delete(digest);
      let pending = this.#inFlight.get(digest);
      if (!pending) {
        pending = this.#ask(key, digest).finally(() => this.#inFlight.delete(digest));
        this.#inFlight.set(digest, pending);
      }
      check = await pending;
    }
    if (check.status === 'valid' && this.#isRevoked(check.keyId))
      return { status: 'invalid', reason: 'revoked' };
    return check;
  }

  /** Forgets the answers about these keys (by key id), which the revocation feed names. */
  evict(keyIds: ReadonlySet<string>): void {
    if (keyIds.size === 0) return;
    for (const [digest, entry] of this.#cache) {
      if (entry.check.status === 'valid' && keyIds.has(entry.check.keyId)) this.#cache.delete(digest);
    }
  }

  /** Abandons calls in flight (they answer `unavailable`) and empties the cache. */
  close(): void {
    this.#closing.abort();
    this.#cache.clear();
  }

  async #ask(key: string, digest: string): Promise<ApiKeyCheck> {
    let answer: unknown;
    try {
      const response = await postToAaa(
        this.#aaa,
        '/internal/api-keys/verify',
        { key },
        { timeoutMs: this.#options.timeoutMs, signal: this.#closing.signal },
      );
      answer = await jsonAnswer(response, 'an API key check');
    } catch (error) {
      if (!this.#closing.signal.aborted)
        this.#logger.warn({ err: error }, 'cannot check an API key with aaa');
      return { status: 'unavailable' };
    }
    const now = this.#options.now();
    const check = checkOf(answer, now);
    if (!check) {
      this.#logger.error('aaa answered an API key check with an unexpected body');
      return { status: 'unavailable' };
    }
    if (!this.#closing.signal.aborted) {
      const ttl =
        check.status === 'valid'
          ? Math.min(this.#options.positiveTtlMs, check.expiresAt - now)
          : this.#options.negativeTtlMs;
      this.#remember(digest, { check, until: now + ttl });
    }
    return check;
  }

  #remember(digest: string, entry: CacheEntry): void {
    this.#cache.delete(digest);
    while (this.#cache.size >= this.#options.maxEntries) {
      const oldest = this.#cache.keys().next();
      if (oldest.done) break;
      this.#cache.delete(oldest.value);
    }
    this.#cache.set(digest, entry);
  }
}

type AnswerCheck = Extract<ApiKeyCheck, { status: 'valid' } | { status: 'invalid' }>;

/**
 * Reads aaa's answer: `{ valid: false }`, or `{ valid: true, keyId, tenantId, scopes, documents, expiresAt }`.
 * A key past its expiry is invalid whatever aaa said; anything else unexpected is undefined.
 */
function checkOf(answer: unknown, now: number): AnswerCheck | undefined {
  if (typeof answer !== 'object' || answer === null) return undefined;
  const { valid, keyId, tenantId, scopes, documents, expiresAt } = answer as Record<string, unknown>;
  if (valid === false) return { status: 'invalid', reason: 'unknown' };
  if (
    valid !== true ||
    typeof keyId !== 'string' ||
    keyId === '' ||
    typeof tenantId !== 'string' ||
    tenantId === '' ||
    !Array.isArray(scopes) ||
    !scopes.every((scope) => typeof scope === 'string') ||
    !(documents === undefined || documents === null || isStringArray(documents)) ||
    typeof expiresAt !== 'string'
  ) {
    return undefined;
  }
  const expiry = Date.parse(expiresAt);
  if (Number.isNaN(expiry)) return undefined;
  if (expiry <= now) return { status: 'invalid', reason: 'expired' };
  return {
    status: 'valid',
    keyId,
    tenantId,
    scopes,
    documents: isStringArray(documents) ? new Set(documents) : null,
    expiresAt: expiry,
  };
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}
