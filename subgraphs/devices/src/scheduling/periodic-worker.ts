import type { Logger } from '@fleet/service-kit';

export interface PeriodicWorkerOptions<T> {
  /** What the worker does, for its logs. */
  name: string;
  logger: Logger;
  /** How often it looks for due work. */
  pollMs: number;
  /** Items it works on at once. */
  concurrency: number;
  /** Takes up to `limit` due items, so that no other process takes them too. */
  claim: (limit: number) => Promise<T[]>;
  run: (item: T) => Promise<void>;
}

/**
 * A background worker for work that comes due on a schedule (scheduled backups, drift checks):
 * every `pollMs` it claims what is due, up to its concurrency, in the database where other
 * processes claim too, and runs it. A failure of one item is logged and keeps no other waiting.
 */
export class PeriodicWorker<T> {
  readonly #options: PeriodicWorkerOptions<T>;
  readonly #running = new Set<Promise<void>>();
  #timer: NodeJS.Timeout | undefined;
  #stopping = false;

  constructor(options: PeriodicWorkerOptions<T>) {
    this.#options = options;
  }

  start(): void {
    this.#schedule(this.#options.pollMs);
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#timer);
    await Promise.allSettled([...this.#running]);
  }

  #schedule(delayMs: number): void {
    if (this.#stopping) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#poll(), delayMs);
  }

  async #poll(): Promise<void> {
    const { claim, run, logger, name, concurrency } = this.#options;
    try {
      const room = concurrency - this.#running.size;
      const items = room > 0 && !this.#stopping ? await claim(room) : [];
      for (const item of items) {
        const running = run(item)
          .catch((error: unknown) => logger.error({ err: error }, `${name} failed`))
          .finally(() => this.#running.delete(running));
        this.#running.add(running);
      }
    } catch (error) {
      logger.error({ err: error }, `could not take due ${name}`);
    }
    this.#schedule(this.#options.pollMs);
  }
}
