import { createClient as createWsClient, type Client as WsClient } from 'graphql-ws';
import { createClient as createSseClient } from 'graphql-sse';
import WebSocket from 'ws';
import type { TestFederation } from './test-federation.js';

export type Protocol = 'graphql-ws' | 'graphql-sse';

/** The credentials a subscriber presents: an access token or an API key, or none. */
export type Credentials = { token: string } | { apiKey: string } | Record<string, never>;

export interface Event<T> {
  data?: T | null;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
}

/** A subscription through the gateway, its events as they arrive, and how it ended. */
export interface Watch<T> {
  readonly events: Event<T>[];
  /** What the server ended it with: GraphQL errors, a close event, or a network error. */
  readonly error: unknown;
  readonly completed: boolean;
  /** The WebSocket's close, when the server closed it (graphql-ws only). */
  readonly closed: { code: number; reason: string } | undefined;
  close(): Promise<void>;
}

/**
 * A client of the gateway's subscriptions, the real graphql-ws or graphql-sse client: credentials
 * go in `connection_init` (graphql-ws) or the request's headers (SSE), as front ends send them.
 * Neither retries: a test sees what the gateway did.
 */
export function watch<T>(
  fleet: TestFederation,
  protocol: Protocol,
  credentials: Credentials,
  query: string,
  variables: Record<string, unknown> = {},
): Watch<T> {
  const headers: Record<string, string> =
    'token' in credentials
      ? { authorization: `Bearer ${credentials.token}` }
      : 'apiKey' in credentials
        ? { 'x-api-key': credentials.apiKey }
        : {};
  const state = {
    events: [] as Event<T>[],
    error: undefined as unknown,
    completed: false,
    closed: undefined as { code: number; reason: string } | undefined,
  };
  const sink = {
    next: (event: unknown) => state.events.push(event as Event<T>),
    error: (error: unknown) => {
      state.error = error;
    },
    complete: () => {
      state.completed = true;
    },
  };
  if (protocol === 'graphql-ws') {
    const { ca } = fleet;
    // A client that trusts the gateway's certificate, as a browser trusting its authority would.
    class TrustingWebSocket extends WebSocket {
      constructor(address: string, protocols?: string | string[]) {
        super(address, protocols, { ca });
      }
    }
    const client: WsClient = createWsClient({
      url: fleet.gatewayUrl.replace(/^http/, 'ws'),
      webSocketImpl: TrustingWebSocket,
      connectionParams: headers,
      retryAttempts: 0,
      lazy: true,
      on: {
        closed: (event) => {
          const { code, reason } = event as { code: number; reason: string | Buffer };
          state.closed = { code, reason: String(reason) };
        },
      },
    });
    const leave = client.subscribe({ query, variables }, sink);
    return watchOf(state, async () => {
      leave();
      await client.dispose();
    });
  }
  const client = createSseClient({
    url: fleet.gatewayUrl,
    headers,
    retryAttempts: 0,
    fetchFn: fleet.fetch,
  });
  const leave = client.subscribe({ query, variables }, sink);
  return watchOf(state, () => {
    leave();
    client.dispose();
    return Promise.resolve();
  });
}

function watchOf<T>(
  state: {
    events: Event<T>[];
    error: unknown;
    completed: boolean;
    closed: { code: number; reason: string } | undefined;
  },
  close: () => Promise<void>,
): Watch<T> {
  return {
    events: state.events,
    get error() {
      return state.error;
    },
    get completed() {
      return state.completed;
    },
    get closed() {
      return state.closed;
    },
    close,
  };
}

/**
 * The open TCP sockets of a process (from /proc), split by whether they are connections to its
 * port `servedPort` (its clients') or any other (its own connections to other services, which its
 * keep-alive pools hold a while and bound).
 */
export async function openSockets(
  pid: number,
  servedPort: number,
): Promise<{ clients: number; upstream: number }> {
  const { readdir, readlink, readFile } = await import('node:fs/promises');
  const inodes = new Set<string>();
  for (const fd of await readdir(`/proc/${pid}/fd`)) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
    if (inode) inodes.add(inode);
  }
  const counts = { clients: 0, upstream: 0 };
  for (const table of ['tcp', 'tcp6']) {
    const lines = (await readFile(`/proc/${pid}/net/${table}`, 'utf8')).split('\n').slice(1);
    for (const line of lines) {
      const fields = line.trim().split(/\s+/);
      // local address, remote address, state (0A: listening), …, inode
      if (fields.length < 10 || !inodes.has(fields[9]!) || fields[3] === '0A') continue;
      const localPort = parseInt(fields[1]!.split(':')[1]!, 16);
      if (localPort === servedPort) counts.clients++;
      else counts.upstream++;
    }
  }
  return counts;
}

/** Resident memory of a process in bytes (from /proc). */
export async function residentBytes(pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
  if (!kb) throw new Error(`no VmRSS for ${pid}`);
  return Number(kb) * 1024;
}

/** A free loopback port, for a process the test starts (e.g. an inspector). */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * The JavaScript heap a process holds after a full garbage collection, asked through its
 * inspector (started with `--inspect=127.0.0.1:<port>`): what stays alive, unlike the resident
 * size, which grows until the collector chooses to run.
 */
export async function liveHeapBytes(inspectorPort: number): Promise<number> {
  const targets = (await (await fetch(`http://127.0.0.1:${inspectorPort}/json/list`)).json()) as {
    webSocketDebuggerUrl: string;
  }[];
  const socket = new WebSocket(targets[0]!.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  let nextId = 0;
  const call = (method: string, params: Record<string, unknown> = {}) =>
    new Promise<Record<string, unknown>>((resolve) => {
      const id = ++nextId;
      const onMessage = (raw: WebSocket.RawData) => {
        const message = JSON.parse((raw as Buffer).toString('utf8')) as {
          id?: number;
          result?: Record<string, unknown>;
        };
        if (message.id !== id) return;
        socket.off('message', onMessage);
        resolve(message.result ?? {});
      };
      socket.on('message', onMessage);
      socket.send(JSON.stringify({ id, method, params }));
    });
  try {
    await call('HeapProfiler.collectGarbage');
    await call('HeapProfiler.collectGarbage');
    const evaluated = await call('Runtime.evaluate', {
      expression: 'process.memoryUsage().heapUsed',
      returnByValue: true,
    });
    return (evaluated.result as { value: number }).value;
  } finally {
    socket.close();
  }
}
