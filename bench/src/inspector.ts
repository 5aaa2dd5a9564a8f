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
