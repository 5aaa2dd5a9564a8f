import type { EventBus } from './event-bus/event-bus.js';
import type { DeviceStatus } from './status-tracker.js';

/** A device's status after a poll, as published. */
export interface StatusEvent {
  status: DeviceStatus;
  /** True when the poll moved the device online or offline. */
  stateChanged: boolean;
}

/** A provisioning job's progress, as published by the worker running it. */
export interface JobProgressEvent {
  jobId: string;
  deviceId: string;
  tenantId: string;
  /** The job's status: running, waiting, queued (to retry), succeeded, failed or canceled. */
  status: string;
  attempt: number;
  /** Changes the attempt's plan holds; null before it is planned. */
  changesPlanned: number | null;
  changesDone: number;
  /** What just happened, in words. */
  message: string;
  at: string;
}

/** Events of one tenant only: a subscriber never receives another tenant's. */
export const statusChannel = (tenantId: string): string => `status:${tenantId}`;
export const jobChannel = (tenantId: string): string => `jobs:${tenantId}`;

/**
 * A channel's message is handed to each of its listeners in turn, the same string each time: it
 * is parsed once, and its listeners share the (read-only) result.
 */
let lastMessage: string | undefined;
let lastParsed: unknown;
function parsedOnce(message: string): unknown {
  if (message !== lastMessage) {
    lastParsed = JSON.parse(message);
    lastMessage = message;
  }
  return lastParsed;
}

/**
 * The events of a channel as an async iterator for a subscription resolver, each turned into
 * what the subscriber receives by `select` (undefined: not for this subscriber). At most
 * `buffer` events wait for a slow subscriber: past that the oldest are dropped (statuses are
 * latest-value, so a newer one supersedes them). Ends when the subscriber leaves.
 */
export function eventStream<E, T>(
  bus: EventBus,
  channel: string,
  select: (event: E) => T | undefined,
  buffer: number,
): AsyncIterableIterator<T> {
  const queue: T[] = [];
  let wake: ((result: IteratorResult<T>) => void) | undefined;
  let done = false;
  const unsubscribe = bus.subscribe(channel, (message) => {
    if (done) return;
    const event = select(parsedOnce(message) as E);
    if (event === undefined) return;
    if (wake) {
      const resolve = wake;
      wake = undefined;
      resolve({ value: event, done: false });
      return;
    }
    queue.push(event);
    if (queue.length > buffer) queue.shift();
  });
  const finish = (): Promise<IteratorResult<T>> => {
    if (!done) {
      done = true;
      unsubscribe();
      queue.length = 0;
      wake?.({ value: undefined, done: true });
      wake = undefined;
    }
    return Promise.resolve({ value: undefined, done: true });
  };
  return {
    next() {
      if (queue.length > 0) return Promise.resolve({ value: queue.shift()!, done: false });
      if (done) return Promise.resolve({ value: undefined, done: true });
      return new Promise((resolve) => (wake = resolve));
    },
    return: finish,
    throw: async (error: unknown) => {
      await finish();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
