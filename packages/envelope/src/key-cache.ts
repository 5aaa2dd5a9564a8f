export interface KeyCacheOptions {
  /** At most this many keys are held; the oldest loaded goes first. */
  maxEntries: number;
  /** How long a loaded key is served before it is loaded again. */
  ttlMs: number;
  /** The clock, in milliseconds; tests pass their own. */
  now?: () => number;
}

interface Entry {
  key: Buffer;
  expiresAt: number;
}

interface Waiter {
  resolve(key: Buffer): void;
  reject(error: unknown): void;
}

/**
 * Bounded cache of unwrapped keys with a TTL; concurrent loads of one id share one load; evicted
 * buffers are zero-filled; failed loads are not cached.
 *
 * The cache owns the buffers it holds: it takes the one a load returns, and zero-fills it when
 * the key expires, is evicted, deleted or cleared. Every caller gets its own copy, made at the
 * moment it is answered, so zeroing a cached key never zeroes one a caller is still using.
 *
 * Keys leave in the order they were loaded: the oldest goes when the cache is full, and expired
 * ones are dropped from the front whenever the cache is used. Deleting an id while its load is
 * under way answers that load's callers but keeps its key out of the cache.
 */
export class KeyCache {
  readonly #entries = new Map<string, Entry>();
  readonly #loading = new Map<string, Waiter[]>();
  readonly #maxEntries: number;
  readonly #ttlMs: number;
  readonly #now: () => number;
  #hits = 0;
  #misses = 0;

  constructor(options: KeyCacheOptions) {
    if (!Number.isInteger(options.maxEntries) || options.maxEntries < 1) {
      throw new RangeError('maxEntries must be a positive integer');
    }
    if (!(options.ttlMs > 0)) throw new RangeError('ttlMs must be positive');
    this.#maxEntries = options.maxEntries;
    this.#ttlMs = options.ttlMs;
    this.#now = options.now ?? Date.now;
  }

  /** Hits: answered without a new load (cached, or sharing a load under way). Misses: loads started. */
  get stats(): { hits: number; misses: number } {
    return { hits: this.#hits, misses: this.#misses };
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The key of this id: a copy of the cached one, or loaded with `load` (once for concurrent callers). */
  get(id: string, load: () => Promise<Buffer>): Promise<Buffer> {
    this.#dropExpired();
    const entry = this.#entries.get(id);
    if (entry) {
      this.#hits++;
      return Promise.resolve(Buffer.from(entry.key));
    }
    return new Promise((resolve, reject) => {
      const waiters = this.#loading.get(id);
      if (waiters) {
        this.#hits++;
        waiters.push({ resolve, reject });
        return;
      }
      this.#misses++;
      const started: Waiter[] = [{ resolve, reject }];
      this.#loading.set(id, started);
      void this.#load(id, started, load);
    });
  }

  /** Forgets a key (zero-filled); a load under way for it will not be cached. */
  delete(id: string): void {
    this.#loading.delete(id);
    this.#evict(id);
  }

  /** Forgets every key (zero-filled); loads under way will not be cached. */
  clear(): void {
    this.#loading.clear();
    for (const entry of this.#entries.values()) entry.key.fill(0);
    this.#entries.clear();
  }

  async #load(id: string, waiters: Waiter[], load: () => Promise<Buffer>): Promise<void> {
    let key: Buffer;
    try {
      key = await load();
      if (!Buffer.isBuffer(key)) throw new TypeError('A key load must return a Buffer');
    } catch (error) {
      if (this.#loading.get(id) === waiters) this.#loading.delete(id);
      for (const waiter of waiters) waiter.reject(error);
      return;
    }
    const current = this.#loading.get(id) === waiters;
    if (current) this.#loading.delete(id);
    // Copies are made here, together, before the key can be evicted by anything else.
    for (const waiter of waiters) waiter.resolve(Buffer.from(key));
    if (current) {
      this.#store(id, key);
    } else {
      key.fill(0);
    }
  }

  #store(id: string, key: Buffer): void {
    this.#evict(id);
    while (this.#entries.size >= this.#maxEntries) {
      this.#evict(this.#entries.keys().next().value!);
    }
    this.#entries.set(id, { key, expiresAt: this.#now() + this.#ttlMs });
  }

  #evict(id: string): void {
    const entry = this.#entries.get(id);
    if (!entry) return;
    this.#entries.delete(id);
    entry.key.fill(0);
  }

  #dropExpired(): void {
    const now = this.#now();
    // Map iteration follows insertion order, and expiries grow with it.
    for (const [id, entry] of this.#entries) {
      if (entry.expiresAt > now) return;
      this.#evict(id);
    }
  }
}
