import WebSocket from 'ws';

/** The inspector's port when a process was not told another (`--inspect-port`). */
export const DEFAULT_INSPECTOR_PORT = 9229;

export interface InspectorSession {
  /** One DevTools protocol call, answered with its result. */
  call(method: string, params?: Record<string, unknown>): Promise<unknown>;
  close(): void;
}

/**
 * A DevTools protocol session with another Node process: its inspector is opened on loopback by
 * SIGUSR1 (as `node inspect -p` does), on `port` (the process's `--inspect-port`, else 9229).
 * `entry` is part of the process's main script's URL, so that a process of someone else's already
 * listening on that port is refused rather than driven.
 */
export async function openInspector(
  pid: number,
  entry: string,
  port = DEFAULT_INSPECTOR_PORT,
): Promise<InspectorSession> {
  const inspector = `http://127.0.0.1:${port}`;
  process.kill(pid, 'SIGUSR1');
  let target: { url: string; webSocketDebuggerUrl: string } | undefined;
  for (let tries = 0; !target && tries < 50; tries++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    try {
      const targets = (await (await fetch(`${inspector}/json/list`)).json()) as (typeof target & {})[];
      target = targets[0];
    } catch {
      // Not listening yet.
    }
  }
  if (!target) throw new Error(`The inspector of process ${pid} did not open on ${inspector}`);
  if (!target.url.includes(entry))
    throw new Error(`${inspector} is another process's inspector (${target.url})`);
  const socket = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  let nextId = 0;
  const pending = new Map<number, { resolve: (result: unknown) => void; reject: (error: Error) => void }>();
  socket.on('message', (data: Buffer) => {
    const message = JSON.parse(data.toString()) as {
      id?: number;
      result?: unknown;
      error?: { message: string };
    };
    const waiting = message.id === undefined ? undefined : pending.get(message.id);
    if (!waiting) return;
    pending.delete(message.id!);
    if (message.error) waiting.reject(new Error(message.error.message));
    else waiting.resolve(message.result);
  });
  return {
    call: (method, params = {}) =>
      new Promise<unknown>((resolve, reject) => {
        const id = ++nextId;
        pending.set(id, { resolve, reject });
        socket.send(JSON.stringify({ id, method, params }));
      }),
    close: () => socket.close(),
  };
}

/** Resolution of the event loop delay histogram (ms): a timer this often, late when the loop is busy. */
const LOOP_DELAY_RESOLUTION_MS = 1;

/** How a process's event loop fared over a span (ms). */
export interface LoopReport {
  /** How late a 1 ms timer ran, beyond its period: what any event waiting there waits at least. */
  delay: { p50: number; p99: number; max: number };
  /** The garbage collector's pauses of the main thread. */
  gc: { count: number; totalMs: number; maxMs: number };
}

/**
 * Watches a process's event loop from now until `read`: Node's monitorEventLoopDelay and a
 * PerformanceObserver of its garbage collections, installed in the process through the session.
 */
export async function watchLoop(session: InspectorSession): Promise<{ read(): Promise<LoopReport> }> {
  const name = `__benchLoop${Date.now()}`;
  await evaluate(
    session,
    `(() => {
      const { monitorEventLoopDelay, PerformanceObserver } = require('node:perf_hooks');
      const watch = { delay: monitorEventLoopDelay({ resolution: ${LOOP_DELAY_RESOLUTION_MS} }), gc: { count: 0, totalMs: 0, maxMs: 0 } };
      watch.observer = new PerformanceObserver((list) => {
        for (const entry of list.getEntries()) {
          watch.gc.count++;
          watch.gc.totalMs += entry.duration;
          watch.gc.maxMs = Math.max(watch.gc.maxMs, entry.duration);
        }
      });
      watch.observer.observe({ entryTypes: ['gc'] });
      watch.delay.enable();
      globalThis.${name} = watch;
      return true;
    })()`,
  );
  return {
    async read() {
      const text = await evaluate(
        session,
        `(() => {
          const watch = globalThis.${name};
          delete globalThis.${name};
          watch.delay.disable();
          watch.observer.disconnect();
          return JSON.stringify({ delay: [watch.delay.percentile(50), watch.delay.percentile(99), watch.delay.max], gc: watch.gc });
        })()`,
      );
      const read = JSON.parse(text as string) as { delay: number[]; gc: LoopReport['gc'] };
      const [p50, p99, max] = read.delay.map((ns) =>
        Number(Math.max(0, ns / 1e6 - LOOP_DELAY_RESOLUTION_MS).toFixed(1)),
      );
      const ms = (value: number) => Number(value.toFixed(1));
      return {
        delay: { p50: p50!, p99: p99!, max: max! },
        gc: { count: read.gc.count, totalMs: ms(read.gc.totalMs), maxMs: ms(read.gc.maxMs) },
      };
    },
  };
}

async function evaluate(session: InspectorSession, expression: string): Promise<unknown> {
  const answer = (await session.call('Runtime.evaluate', {
    expression,
    includeCommandLineAPI: true,
    returnByValue: true,
  })) as {
    result: { value?: unknown };
    exceptionDetails?: { text: string; exception?: { description?: string } };
  };
  if (answer.exceptionDetails)
    throw new Error(
      `Runtime.evaluate: ${answer.exceptionDetails.exception?.description ?? answer.exceptionDetails.text}`,
    );
  return answer.result.value;
}
