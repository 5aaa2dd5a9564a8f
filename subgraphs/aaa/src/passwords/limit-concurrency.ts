/**
 * Runs at most `max` tasks at a time; the others wait their turn, first come first served.
 *
 * Password hashing is deliberately expensive in memory and CPU: without a bound, a burst of
 * logins would start them all at once and exhaust the process instead of queueing.
 */
export class ConcurrencyLimit {
  readonly #max: number;
  readonly #waiting: (() => void)[] = [];
  #inFlight = 0;
  #peakInFlight = 0;

  constructor(max: number) {
    if (!Number.isInteger(max) || max < 1)
      throw new RangeError('the concurrency limit must be a positive integer');
    this.#max = max;
  }

  /** Tasks running now. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** The most tasks that ever ran at once. */
  get peakInFlight(): number {
    return this.#peakInFlight;
  }

  /** Tasks waiting for a free slot. */
  get queued(): number {
    return this.#waiting.length;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    await this.#acquire();
    try {
      return await task();
    } finally {
      this.#release();
    }
  }

  async #acquire(): Promise<void> {
    if (this.#inFlight < this.#max) {
      this.#started();
      return;
    }
    // The slot is handed over by #release, which counts the task as started for us.
    await new Promise<void>((resolve) => this.#waiting.push(resolve));
  }

  #release(): void {
    this.#inFlight--;
    const next = this.#waiting.shift();
    if (next) {
      this.#started();
      next();
    }
  }

  #started(): void {
    this.#inFlight++;
    this.#peakInFlight = Math.max(this.#peakInFlight, this.#inFlight);
  }
}
