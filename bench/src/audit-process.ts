import { startNodeProcess } from './node-process.js';

/** Part of the main script's path: what the inspector's target is checked against (cpu-profile). */
export const AUDIT_ENTRY = 'subgraphs/audit/';

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
  const audit = await startNodeProcess({
    entry: new URL('../../subgraphs/audit/dist/main.js', import.meta.url),
    name: 'audit',
    env: {
      APOLLO_TELEMETRY_DISABLED: 'true',
      ...(nodeOptions ? { NODE_OPTIONS: nodeOptions } : {}),
      ...variables,
    },
  });
  return {
    pid: audit.pid,
    port: audit.ready.port,
    // Over mutual TLS: its variables carry its certificate (AUDIT_MTLS_*).
    url: `https://127.0.0.1:${audit.ready.port}`,
    logs: () => audit.logs(),
    stop: () => audit.stop(),
  };
}
