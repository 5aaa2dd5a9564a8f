import type { ReplayGuard } from './signature.js';

export interface MemoryReplayGuardOptions {
  /** How long a nonce is remembered: at least twice the accepted clock skew. */
  retentionMs: number;
  /** Most nonces held at once. When full (and nothing has expired), requests are refused. */
  maxEntries: number;
}

/**
 * Replay guard for one process. Nonces are kept in arrival order, so expired ones are dropped
 * from the front in O(1) each. With several replicas of a service, a shared guard is needed.
 */
export class MemoryReplayGuard implements ReplayGuard {
  readonly #expiries = new Map<string, number>();
  readonly #options: MemoryReplayGuardOptions;

  constructor(options: MemoryReplayGuardOptions) {
    this.#options = options;
  }

  get size(): number {
    return this.#expiries.size;
  }

  remember(nonce: string, now: number): boolean {
    this.#dropExpired(now);
    if (this.#expiries.has(nonce)) return false;
    if (this.#expiries.size >= this.#options.maxEntries) return false;
    this.#expiries.set(nonce, now + this.#options.retentionMs);
    return true;
  }

  #dropExpired(now: number): void {
    // Map iteration follows insertion order, and expiries grow with it.
    for (const [nonce, expiry] of this.#expiries) {
      if (expiry > now) return;
      this.#expiries.delete(nonce);
    }
  }
}
