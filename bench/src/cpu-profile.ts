import WebSocket from 'ws';

const INSPECTOR = 'http://127.0.0.1:9229';

/**
 * A CPU profile of another Node process over exactly the span between start and stop: its
 * inspector is opened on loopback by SIGUSR1 (as `node inspect -p` does) and driven through the
 * DevTools protocol. `entry` is part of the process's main script's URL, so that a process of
 * someone else's already listening on the inspector's port is refused rather than profiled.
 */
export async function startCpuProfile(pid: number, entry: string): Promise<{ stop(): Promise<unknown> }> {
  process.kill(pid, 'SIGUSR1');
  let target: { url: string; webSocketDebuggerUrl: string } | undefined;
  for (let tries = 0; !target && tries < 50; tries++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    try {
      const targets = (await (await fetch(`${INSPECTOR}/json/list`)).json()) as (typeof target & {})[];
      target = targets[0];
    } catch {
      // Not listening yet.
    }
  }
  if (!target) throw new Error(`The inspector of process ${pid} did not open on ${INSPECTOR}`);
  if (!target.url.includes(entry))
    throw new Error(`${INSPECTOR} is another process's inspector (${target.url})`);
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
  const call = (method: string, params: Record<string, unknown> = {}) =>
    new Promise<unknown>((resolve, reject) => {
      const id = ++nextId;
      pending.set(id, { resolve, reject });
      socket.send(JSON.stringify({ id, method, params }));
    });
  await call('Profiler.enable');
  await call('Profiler.start');
  return {
    async stop() {
      const { profile } = (await call('Profiler.stop')) as { profile: unknown };
      await call('Profiler.disable');
      socket.close();
      return profile;
    },
  };
}
