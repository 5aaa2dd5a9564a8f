import { parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import type { Subscriber, ThreadReply, ThreadRequest, ThreadStatus } from './subscriber-threads.js';

/**
 * One thread of the benchmark's subscribers: a graphql-ws client (the real one, over `ws`) per
 * subscriber, each its own WebSocket to the gateway with the credentials in `connection_init`, as
 * a browser would connect. While recording, each status event's receipt is noted, right as the
 * client hands it over, with its time on the monotonic clock every thread of the process shares
 * and on the wall clock (which the devices process's `checkedAt` is on).
 */
const { url, ca } = workerData as { url: string; ca: string };
/** `ws` as graphql-ws constructs it (address, protocols), trusting the gateway's authority. */
class TrustingWebSocket extends WebSocket {
  constructor(address: string, protocols?: string | string[]) {
    super(address, protocols, { ca });
  }
}
const port = parentPort!;
const send = (reply: ThreadReply) => port.postMessage(reply);
/** Connections being opened at once by this thread. */
const OPENING = 25;
const MAX_ERROR_SAMPLES = 2;

const clients: Client[] = [];
let connected = 0;
let failed = 0;
let subscriptionErrors = 0;
let closedAfterConnect = 0;
const errorSamples: string[] = [];
/** Subscriptions the server completed: none should be, here. */
let completed = 0;
/** Per subscriber: did it receive an event since the last reset? */
let heard = new Uint8Array(0);
let events = 0;
let recording = false;
/** Bumped when the benchmark closes every client: the ends of those are not news. */
let generation = 0;
let keys: string[] = [];
let times: number[] = [];
let clockTimes: number[] = [];
let elu = performance.eventLoopUtilization();

const now = () => Number(process.hrtime.bigint()) / 1e6;

/** A few examples of what went wrong, of each kind. */
function sample(what: string): void {
  const kind = what.split(' ', 1)[0]!;
  if (errorSamples.filter((seen) => seen.startsWith(kind)).length < MAX_ERROR_SAMPLES)
    errorSamples.push(what);
}

interface StatusData {
  deviceStatusChanged?: { checkedAt: string | null; device: { id: string } | null } | null;
}

/** Opens one subscriber; settles once its connection is acknowledged, or failed. */
function open(subscriber: Subscriber, index: number): Promise<void> {
  return new Promise((settle) => {
    let acknowledged = false;
    const born = generation;
    const client = createClient({
      url,
      webSocketImpl: TrustingWebSocket,
      connectionParams: { authorization: `Bearer ${subscriber.token}` },
      lazy: true,
      retryAttempts: 0,
      on: {
        connected: () => {
          acknowledged = true;
          connected++;
          settle();
        },
        closed: (event) => {
          const { code, reason } = event as { code?: number; reason?: unknown };
          if (born !== generation) return;
          if (acknowledged) {
            closedAfterConnect++;
            sample(`closed ${code} ${String(reason)}`);
            return;
          }
          failed++;
          sample(`refused ${code} ${String(reason)}`);
          settle();
        },
      },
    });
    clients.push(client);
    client.subscribe<StatusData>(
      { query: subscriber.query, variables: subscriber.variables },
      {
        next: (result) => {
          const at = now();
          const clock = performance.timeOrigin + performance.now();
          events++;
          heard[index] = 1;
          if (!recording) return;
          const status = result.data?.deviceStatusChanged;
          if (!status?.device || !status.checkedAt) return;
          keys.push(`${status.device.id} ${status.checkedAt}`);
          times.push(at);
          clockTimes.push(clock);
        },
        error: (error) => {
          if (born !== generation) return;
          subscriptionErrors++;
          sample(`subscription error ${JSON.stringify(error)?.slice(0, 300)}`);
        },
        complete: () => {
          if (born !== generation) return;
          completed++;
        },
      },
    );
  });
}

function status(): ThreadStatus {
  let withEvents = 0;
  for (const value of heard) withEvents += value;
  return {
    subscribers: clients.length,
    connected,
    failed,
    closedAfterConnect,
    subscriptionErrors,
    completed,
    errorSamples: [...errorSamples],
    withEvents,
    events,
  };
}

port.on('message', (request: ThreadRequest) => {
  switch (request.type) {
    case 'open': {
      const base = clients.length;
      const grown = new Uint8Array(base + request.subscribers.length);
      grown.set(heard);
      heard = grown;
      let next = 0;
      const lane = async () => {
        while (next < request.subscribers.length) {
          const index = next++;
          await open(request.subscribers[index]!, base + index);
        }
      };
      void Promise.all(Array.from({ length: OPENING }, lane)).then(() =>
        send({ type: 'opened', status: status() }),
      );
      return;
    }
    case 'status':
      send({ type: 'status', status: status() });
      return;
    case 'reset':
      heard.fill(0);
      events = 0;
      send({ type: 'status', status: status() });
      return;
    case 'record':
      keys = [];
      times = [];
      clockTimes = [];
      heard.fill(0);
      events = 0;
      elu = performance.eventLoopUtilization();
      recording = true;
      send({ type: 'status', status: status() });
      return;
    case 'report': {
      recording = false;
      const utilization = performance.eventLoopUtilization(elu).utilization;
      send({
        type: 'receipts',
        status: status(),
        keys,
        times,
        clockTimes,
        eventLoopUtilization: utilization,
      });
      keys = [];
      times = [];
      clockTimes = [];
      return;
    }
    case 'close':
      generation++;
      void Promise.all(clients.map((client) => Promise.resolve(client.dispose()))).then(() => {
        clients.length = 0;
        heard = new Uint8Array(0);
        connected = failed = subscriptionErrors = completed = closedAfterConnect = events = 0;
        errorSamples.length = 0;
        send({ type: 'closed' });
      });
      return;
  }
});
