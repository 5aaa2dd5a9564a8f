/** Faults the simulator can be told to show, switched while it runs. */
export interface KmsSimFaults {
  /** Answers the next `count` requests with ThrottlingException, or every request until cleared. */
  throttle(count: number | 'always'): void;
  /** Waits this many milliseconds before answering each request. */
  latency(ms: number): void;
  /** Back to answering at once and never throttling. */
  clear(): void;
}

export class FaultState implements KmsSimFaults {
  latencyMs = 0;
  #throttle: number | 'always' = 0;

  throttle(count: number | 'always'): void {
    if (count !== 'always' && (!Number.isInteger(count) || count < 0)) {
      throw new RangeError('throttle takes a count of requests or "always"');
    }
    this.#throttle = count;
  }

  latency(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError('latency takes milliseconds, 0 or more');
    this.latencyMs = ms;
  }

  clear(): void {
    this.latencyMs = 0;
    this.#throttle = 0;
  }

  /** Counts a request against the throttle; true when it must be throttled. */
  takeThrottle(): boolean {
    if (this.#throttle === 'always') return true;
    if (this.#throttle === 0) return false;
    this.#throttle--;
    return true;
  }
}
