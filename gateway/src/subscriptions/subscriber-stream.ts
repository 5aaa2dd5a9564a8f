import type { FormattedExecutionResult } from 'graphql';

/**
 * The events of one subscriber, as an async iterator the protocol adapters (graphql-ws, SSE)
 * read from. They read one event at a time and only once the previous one was written to the
 * socket, so a slow reader holds at most `capacity` events here: past it, the oldest are dropped
 * (device status is latest-value: a newer status replaces what a late one would have said).
 *
 * `return()`, called by the adapter when the client leaves, runs `onClose` once; so does the end
 * of the stream from this side (`end`).
 */
export class SubscriberStream implements AsyncIterableIterator<FormattedExecutionResult> {
  readonly #queue: FormattedExecutionResult[] = [];
  readonly #capacity: number;
  readonly #onClose: () => void;
  #waiting: ((result: IteratorResult<FormattedExecutionResult>) => void) | undefined;
  #ending = false;
  #closed = false;
  /** Events dropped because the reader was slow. */
  dropped = 0;

  constructor(capacity: number, onClose: () => void) {
    this.#capacity = capacity;
    this.#onClose = onClose;
  }

  get closed(): boolean {
    return this.#closed || this.#ending;
  }

  push(result: FormattedExecutionResult): void {
    if (this.#ending || this.#closed) return;
    const waiting = this.#waiting;
    if (waiting) {
      this.#waiting = undefined;
      waiting({ value: result, done: false });
      return;
    }
    if (this.#queue.length >= this.#capacity) {
      this.#queue.shift();
      this.dropped++;
    }
    this.#queue.push(result);
  }

  /** Ends the stream after what is queued, with `last` as its final event when given. */
  end(last?: FormattedExecutionResult): void {
    if (this.#ending || this.#closed) return;
    if (last) this.push(last);
    this.#ending = true;
    this.#close();
    if (this.#queue.length === 0) this.#finish();
  }

  next(): Promise<IteratorResult<FormattedExecutionResult>> {
    const queued = this.#queue.shift();
    if (queued) return Promise.resolve({ value: queued, done: false });
    if (this.#ending || this.#closed) {
      this.#finish();
      return Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve) => {
      this.#waiting = resolve;
    });
  }

  return(): Promise<IteratorResult<FormattedExecutionResult>> {
    this.#queue.length = 0;
    this.#close();
    this.#finish();
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(): Promise<IteratorResult<FormattedExecutionResult>> {
    return this.return();
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#onClose();
  }

  #finish(): void {
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.({ value: undefined, done: true });
  }
}
