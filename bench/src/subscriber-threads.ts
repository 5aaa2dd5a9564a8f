import { Worker } from 'node:worker_threads';

/** One subscriber: its own connection, its credentials and its one subscription. */
export interface Subscriber {
  token: string;
  query: string;
  variables: Record<string, unknown>;
}

/** What a thread's subscribers are doing. */
export interface ThreadStatus {
  subscribers: number;
  /** Connections the gateway acknowledged (credentials accepted). */
  connected: number;
  /** Connections closed before they were acknowledged. */
  failed: number;
  /** Acknowledged connections the gateway closed since. */
  closedAfterConnect: number;
  /** Subscriptions ended by an error (refused, or failed later). */
  subscriptionErrors: number;
  /** Subscriptions the server completed. */
  completed: number;
  errorSamples: string[];
  /** Subscribers that received at least one event since the last reset. */
  withEvents: number;
  /** Events received since the last reset. */
  events: number;
}

export type ThreadRequest =
  { type: 'open'; subscribers: Subscriber[] } | { type: 'status' | 'reset' | 'record' | 'report' | 'close' };

export type ThreadReply =
  | { type: 'opened' | 'status'; status: ThreadStatus }
  | {
      type: 'receipts';
      status: ThreadStatus;
      /** `deviceId checkedAt` of each status event received while recording, with its time. */
      keys: string[];
      times: number[];
      /** The same on the wall clock (ms since the epoch). */
      clockTimes: number[];
      eventLoopUtilization: number;
    }
  | { type: 'closed' };

/** Status events received, each with when (ms on the process's monotonic clock). */
export interface Receipts {
  keys: string[];
  times: number[];
  /** The same instants on the wall clock (ms since the epoch). */
  clockTimes: number[];
  /** Each thread's event loop utilization while recording. */
  eventLoopUtilization: number[];
}

/**
 * The benchmark's subscribers, spread over worker threads so that many sockets and their events
 * are read in parallel and apart from the thread that notes when events were published.
 */
export class SubscriberThreads {
  readonly #workers: Worker[];
  #failure: Error | undefined;

  private constructor(workers: Worker[]) {
    this.#workers = workers;
  }

  /** `ca`: the authority (PEM) the gateway's certificate chains to, which the clients trust. */
  static async start(threads: number, gatewayWsUrl: string, ca: string): Promise<SubscriberThreads> {
    const workers = Array.from(
      { length: threads },
      () =>
        new Worker(new URL('./subscriber-thread.js', import.meta.url), {
          workerData: { url: gatewayWsUrl, ca },
        }),
    );
    await Promise.all(
      workers.map(
        (worker) => new Promise((resolve, reject) => worker.once('online', resolve).once('error', reject)),
      ),
    );
    const started = new SubscriberThreads(workers);
    for (const worker of workers) {
      worker.on('error', (error) => (started.#failure = error));
    }
    return started;
  }

  /** Opens the subscribers (shared out in turn), answering once every connection settled. */
  async open(subscribers: readonly Subscriber[]): Promise<ThreadStatus> {
    const shares = this.#workers.map(() => [] as Subscriber[]);
    subscribers.forEach((subscriber, i) => shares[i % shares.length]!.push(subscriber));
    const replies = await Promise.all(
      this.#workers.map((worker, i) =>
        this.#ask(worker, { type: 'open', subscribers: shares[i]! }, 'opened'),
      ),
    );
    return sum(replies.map((reply) => (reply as { status: ThreadStatus }).status));
  }

  async status(): Promise<ThreadStatus> {
    return this.#all({ type: 'status' });
  }

  /** Forgets which subscribers received events, to see who receives from now on. */
  async reset(): Promise<ThreadStatus> {
    return this.#all({ type: 'reset' });
  }

  /** Starts noting every status event's receipt. */
  async record(): Promise<ThreadStatus> {
    return this.#all({ type: 'record' });
  }

  /** Stops noting receipts and collects them. */
  async report(): Promise<{ status: ThreadStatus; receipts: Receipts }> {
    const replies = (await Promise.all(
      this.#workers.map((worker) => this.#ask(worker, { type: 'report' }, 'receipts')),
    )) as Extract<ThreadReply, { type: 'receipts' }>[];
    return {
      status: sum(replies.map((reply) => reply.status)),
      receipts: {
        keys: replies.flatMap((reply) => reply.keys),
        times: replies.flatMap((reply) => reply.times),
        clockTimes: replies.flatMap((reply) => reply.clockTimes),
        eventLoopUtilization: replies.map((reply) => reply.eventLoopUtilization),
      },
    };
  }

  /** Closes every subscriber's connection. */
  async close(): Promise<void> {
    await Promise.all(this.#workers.map((worker) => this.#ask(worker, { type: 'close' }, 'closed')));
  }

  async stop(): Promise<void> {
    await Promise.all(this.#workers.map((worker) => worker.terminate()));
  }

  async #all(request: ThreadRequest): Promise<ThreadStatus> {
    const replies = await Promise.all(this.#workers.map((worker) => this.#ask(worker, request, 'status')));
    return sum(replies.map((reply) => (reply as { status: ThreadStatus }).status));
  }

  #ask(worker: Worker, request: ThreadRequest, answer: ThreadReply['type']): Promise<ThreadReply> {
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      const onMessage = (reply: ThreadReply) => {
        if (reply.type !== answer) return;
        worker.off('message', onMessage).off('error', reject);
        resolve(reply);
      };
      worker.on('message', onMessage).once('error', reject);
      worker.postMessage(request);
    });
  }
}

function sum(statuses: ThreadStatus[]): ThreadStatus {
  const total: ThreadStatus = {
    subscribers: 0,
    connected: 0,
    failed: 0,
    closedAfterConnect: 0,
    subscriptionErrors: 0,
    completed: 0,
    errorSamples: [],
    withEvents: 0,
    events: 0,
  };
  for (const status of statuses) {
    total.subscribers += status.subscribers;
    total.connected += status.connected;
    total.failed += status.failed;
    total.closedAfterConnect += status.closedAfterConnect;
    total.subscriptionErrors += status.subscriptionErrors;
    total.completed += status.completed;
    total.errorSamples.push(...status.errorSamples);
    total.withEvents += status.withEvents;
    total.events += status.events;
  }
  total.errorSamples = total.errorSamples.slice(0, 8);
  return total;
}
