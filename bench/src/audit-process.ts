import { fork } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { ReadyMessage } from '@fleet/service-kit';

const AUDIT_MAIN = fileURLToPath(new URL('../../subgraphs/audit/dist/main.js', import.meta.url));
/** Part of the main script's path: what the inspector's target is checked against (cpu-profile). */
export const AUDIT_ENTRY = 'subgraphs/audit/';
const READY_TIMEOUT_MS = 90_000;
const STOP_TIMEOUT_MS = 20_000;
const KEPT_LINES = 200;

export interface AuditProcess {
  pid: number;
  port: number;
  url: string;
  /** The last lines it wrote (warnings and errors at the benchmark's log level). */
  logs(): readonly string[];
  stop(): Promise<void>;
}

/**
 * The audit service in a process of its own, started as the launcher starts it (its built
 * main, only its own `AUDIT_*` variables, ready once it says so over IPC), so that its CPU can
 * be read apart from the load this process sends it. `nodeOptions` reaches it as NODE_OPTIONS
 * (an inspector port for a CPU profile).
 */
export async function startAuditProcess(
  variables: Record<string, string>,
  nodeOptions?: string,
): Promise<AuditProcess> {
  const child = fork(AUDIT_MAIN, [], {
    execArgv: [],
    env: {
      PATH: process.env.PATH,
      ...(process.env.HOME ? { HOME: process.env.HOME } : {}),
      APOLLO_TELEMETRY_DISABLED: 'true',
      ...(nodeOptions ? { NODE_OPTIONS: nodeOptions } : {}),
      ...variables,
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
  const port = await new Promise<number>((ready, fail) => {
    const timer = setTimeout(() => fail(new Error('audit did not become ready in time')), READY_TIMEOUT_MS);
    child.on('message', (message: ReadyMessage) => {
      if (message.type !== 'ready') return;
      clearTimeout(timer);
      ready(message.port);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`audit exited with code ${code} before it was ready:\n${lines.join('\n')}`));
    });
  });
  return {
    pid: child.pid!,
    port,
    // Over mutual TLS: its variables carry its certificate (AUDIT_MTLS_*).
    url: `https://127.0.0.1:${port}`,
    logs: () => lines,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    },
  };
}
