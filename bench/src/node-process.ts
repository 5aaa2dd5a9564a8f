import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

// A service migrating its embedded database on first start takes the better part of a minute.
const READY_TIMEOUT_MS = 90_000;
const STOP_TIMEOUT_MS = 20_000;
const KEPT_LINES = 200;
const TASKSET = '/usr/bin/taskset';

/** What a benchmark's child process sends over IPC once it serves. */
export interface ReadyMessage {
  type: 'ready';
  port: number;
  [detail: string]: unknown;
}

export interface NodeProcess {
  pid: number;
  ready: ReadyMessage;
  child: ChildProcess;
  /** The last lines it wrote. */
  logs(): readonly string[];
  stop(): Promise<void>;
}

export interface NodeProcessOptions {
  /**
   * A module of this package's dist or a service's built main (a URL relative to the caller,
   * e.g. `new URL('./x.js', import.meta.url)`).
   */
  entry: URL;
  /** What its errors call it; the entry's file name by default. */
  name?: string;
  env: Record<string, string>;
  /** Node's own flags (`--import`, `--cpu-prof`, …). */
  nodeFlags?: string[];
  /** The CPUs it may run on (`taskset -c`), where taskset exists. */
  cpus?: string;
}

/** Whether processes can be pinned to CPUs here. */
export const canPin = existsSync(TASKSET);

/**
 * A Node process of the benchmark's own, with only the variables given (and PATH, HOME),
 * pinned to `cpus` where taskset exists; ready once it says so over IPC.
 */
export async function startNodeProcess(options: NodeProcessOptions): Promise<NodeProcess> {
  const node = [...(options.nodeFlags ?? []), fileURLToPath(options.entry)];
  const [command, args] =
    options.cpus && canPin
      ? [TASKSET, ['-c', options.cpus, process.execPath, ...node]]
      : [process.execPath, node];
  const child = spawn(command, args, {
    env: {
      PATH: process.env.PATH,
      ...(process.env.HOME ? { HOME: process.env.HOME } : {}),
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const lines: string[] = [];
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream }).on('line', (line) => {
      lines.push(line);
      if (lines.length > KEPT_LINES) lines.shift();
    });
  }
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const name = options.name ?? options.entry.pathname.split('/').pop();
  const ready = await new Promise<ReadyMessage>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${name} did not become ready in time`)),
      READY_TIMEOUT_MS,
    );
    child.on('message', (message: ReadyMessage) => {
      if (message.type !== 'ready') return;
      clearTimeout(timer);
      resolve(message);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with code ${code} before it was ready:\n${lines.join('\n')}`));
    });
  });
  return {
    // taskset runs node in its own place (exec): the pid is node's.
    pid: child.pid!,
    ready,
    child,
    logs: () => lines,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Tells the parent this process serves (see startNodeProcess). */
export function announceReady(message: ReadyMessage): void {
  process.send?.(message);
}
