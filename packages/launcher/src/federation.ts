import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import tls from 'node:tls';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import type { InitialAdmin } from '@fleet/aaa';
import type { ReadyMessage } from '@fleet/service-kit';
import { DEFAULT_ROUTER_NETWORKS } from '@fleet/devices';
import { GATEWAY_NODE_OPTIONS } from '@fleet/gateway';
import { Agent, fetch } from 'undici';
import { keepCertificates, RENEWAL_CHECK_MS, type CertificateDirectory } from './certificates.js';
import { loadOrCreateSecrets, type PairName, type Secrets } from './secrets.js';

export const SUBGRAPH_NAMES = ['aaa', 'devices', 'billing', 'audit'] as const;
export type SubgraphName = (typeof SUBGRAPH_NAMES)[number];
export type ServiceName = SubgraphName | 'gateway';

const PRODUCERS = ['aaa', 'devices', 'billing'] as const;
const DEFAULT_PORTS: Record<ServiceName, number> = {
  gateway: 4000,
  aaa: 4101,
  devices: 4102,
  billing: 4103,
  audit: 4104,
};
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const ENTRY: Record<ServiceName, string> = {
  gateway: join(ROOT, 'gateway/dist/main.js'),
  aaa: join(ROOT, 'subgraphs/aaa/dist/main.js'),
  devices: join(ROOT, 'subgraphs/devices/dist/main.js'),
  billing: join(ROOT, 'subgraphs/billing/dist/main.js'),
  audit: join(ROOT, 'subgraphs/audit/dist/main.js'),
};
const READY_TIMEOUT_MS = 90_000;
const STOP_TIMEOUT_MS = 20_000;
const MAX_CAPTURED_LINES = 20_000;

export interface FederationOptions {
  /** Root of the embedded default's data: secrets and one database directory per service. */
  dataDir: string;
  /** The user's configuration; each service receives the variables of its own prefix. */
  env?: NodeJS.ProcessEnv;
  /** Ports to use instead of the configured ones (0 picks a free port). */
  ports?: Partial<Record<ServiceName, number>>;
  /** Further variables per service, over everything else (tests use it). */
  overrides?: Partial<Record<ServiceName, Record<string, string>>>;
  /** `inherit`: the services log to this process's output. `capture`: kept for `logs()`. */
  output?: 'inherit' | 'capture';
  /** Called when a service ends without being asked to. */
  onUnexpectedExit?: (service: ServiceName, code: number | null) => void;
}

export interface Federation {
  readonly gatewayUrl: string;
  /**
   * The internal authority's certificate: what the gateway's own edge certificate chains to when
   * no other is configured, so what its clients trust.
   */
  readonly caFile: string;
  /** Set when aaa created (or re-invited) the first platform administrator during this start. */
  readonly initialAdmin: InitialAdmin | undefined;
  port(service: ServiceName): number;
  /** A running service's base URL: https, unless its configuration turned TLS off. */
  url(service: ServiceName): string;
  /** The process id of a running service (benchmarks read its CPU time). */
  pid(service: ServiceName): number | undefined;
  /** Lines a service wrote, when output is captured. */
  logs(service: ServiceName): readonly string[];
  stopService(service: ServiceName): Promise<void>;
  /** Starts a stopped service again, on the port it had. */
  startService(service: ServiceName): Promise<void>;
  /**
   * Starts one more process of a subgraph, with the same configuration on a port of its own
   * (replicas share a PostgreSQL database and Redis; the gateway keeps calling the first).
   */
  startReplica(service: SubgraphName): Promise<Replica>;
  stop(): Promise<void>;
}

/** A further process of a subgraph beside the federation's own. */
export interface Replica {
  readonly port: number;
  readonly pid: number | undefined;
  /** Lines it wrote, when output is captured. */
  logs(): readonly string[];
  stop(): Promise<void>;
  /** Ends it with SIGKILL, as a crash would. */
  kill(): Promise<void>;
}

interface Running {
  child: ChildProcess;
  port: number;
  stopping: boolean;
  exited: Promise<void>;
}

/**
 * Starts the whole federation as separate processes: audit first (the others ship events to
 * it), then aaa, devices and billing, then the gateway, and waits until the gateway is ready.
 * Each process receives only its own configuration and its own keys.
 */
export async function startFederation(options: FederationOptions): Promise<Federation> {
  const dataDir = resolve(options.dataDir);
  const secrets = loadOrCreateSecrets(dataDir);
  const userEnv = options.env ?? process.env;
  /** A variable of a service's as it will see it: the overrides first, then the user's. */
  const setting = (service: ServiceName, name: string): string | undefined =>
    options.overrides?.[service]?.[name] ?? userEnv[name];
  const enabled = (value: string | undefined): boolean => value === 'true' || value === '1';
  const schemeOf = (service: ServiceName): 'http' | 'https' =>
    enabled(
      setting(
        service,
        service === 'gateway' ? 'GATEWAY_PLAINTEXT_HTTP' : `${service.toUpperCase()}_MTLS_DISABLED`,
      ),
    )
      ? 'http'
      : 'https';
  const gatewayHost = setting('gateway', 'GATEWAY_HOST');
  const edgeNames = ['localhost', '127.0.0.1'];
  if (gatewayHost && !['0.0.0.0', '::', ...edgeNames].includes(gatewayHost)) edgeNames.push(gatewayHost);
  const { certificates, issued } = await keepCertificates(dataDir, ['gateway', ...SUBGRAPH_NAMES], edgeNames);
  if (issued.length > 0 && options.output !== 'capture')
    process.stdout.write(`Issued certificates (${issued.join(', ')}) in ${certificates.dir}\n`);
  const renewal = setInterval(() => {
    keepCertificates(dataDir, ['gateway', ...SUBGRAPH_NAMES], edgeNames).then(
      (kept) => {
        if (kept.issued.length > 0) process.stdout.write(`Renewed certificates: ${kept.issued.join(', ')}\n`);
      },
      (error: unknown) => process.stderr.write(`Could not renew the certificates: ${String(error)}\n`),
    );
  }, RENEWAL_CHECK_MS);
  renewal.unref();
  const running = new Map<ServiceName, Running>();
  const logs = new Map<ServiceName, string[]>();
  const ports = new Map<ServiceName, number>();
  let initialAdmin: InitialAdmin | undefined;
  const urlOf = (service: ServiceName): string => {
    const port = ports.get(service) ?? configuredPort(service);
    if (port === undefined) throw new Error(`${service} has not started`);
    const host = setting(service, `${service.toUpperCase()}_HOST`);
    return `${schemeOf(service)}://${!host || host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
  };

  /** The port a service will listen on when nothing picks one for it; undefined for "any". */
  const configuredPort = (service: ServiceName): number | undefined => {
    const requested =
      options.ports?.[service] ?? Number(userEnv[`${service.toUpperCase()}_PORT`] ?? DEFAULT_PORTS[service]);
    return requested === 0 ? undefined : requested;
  };

  // Some services are told a peer's address before the peer starts: devices writes the gateway's
  // into enrollment scripts, and audit, started first, calls devices and billing to restore their
  // entities. When any free port will do (port 0), one is chosen for each now.
  for (const service of ['gateway', 'devices', 'billing'] as const)
    if (configuredPort(service) === undefined) ports.set(service, await freePort());

  const envOf = (service: ServiceName): NodeJS.ProcessEnv => {
    const prefix = `${service.toUpperCase()}_`;
    const defaults = serviceDefaults(service, prefix, dataDir, secrets, certificates, urlOf);
    const requestedPort = options.ports?.[service];
    const own = Object.fromEntries(Object.entries(userEnv).filter(([name]) => name.startsWith(prefix)));
    const port = ports.get(service) ?? requestedPort;
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      ...(process.env.HOME ? { HOME: process.env.HOME } : {}),
      APOLLO_TELEMETRY_DISABLED: 'true',
      ...defaults,
      ...own,
      ...(port !== undefined ? { [`${prefix}PORT`]: String(port) } : {}),
      ...options.overrides?.[service],
    };
    // Node's own options for this one process, e.g. a heap limit sized to what it serves.
    const nodeOptions = env[`${prefix}NODE_OPTIONS`];
    if (nodeOptions) env.NODE_OPTIONS = nodeOptions;
    return env;
  };

  /** Forks a service and waits until it is ready; answers the process and its port. */
  const spawn = async (
    service: ServiceName,
    lines: string[],
    env: NodeJS.ProcessEnv,
  ): Promise<{ child: ChildProcess; port: number; exited: Promise<void> }> => {
    const capture = options.output === 'capture';
    const child = fork(ENTRY[service], [], {
      // The built service as it is, whatever flags this process runs with (a test runner's own).
      execArgv: [],
      env,
      stdio: capture ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const stderr: string[] = [];
    if (capture) {
      for (const stream of [child.stdout, child.stderr]) {
        if (!stream) continue;
        createInterface({ input: stream }).on('line', (line) => {
          if (lines.length < MAX_CAPTURED_LINES) lines.push(line);
          if (stream === child.stderr) stderr.push(line);
        });
      }
    }
    const exited = new Promise<void>((done) => child.once('exit', () => done()));
    const port = await new Promise<number>((ready, fail) => {
      const timer = setTimeout(
        () => fail(new Error(`${service} did not become ready in time`)),
        READY_TIMEOUT_MS,
      );
      child.on('message', (message: ReadyMessage | InitialAdmin) => {
        if (message.type === 'initial-admin') {
          initialAdmin = message;
          return;
        }
        if (message.type !== 'ready') return;
        clearTimeout(timer);
        ready(message.port);
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        const detail = stderr.length > 0 ? `:\n${stderr.join('\n')}` : '';
        fail(new Error(`${service} exited with code ${code} before it was ready${detail}`));
      });
    });
    return { child, port, exited };
  };

  const launch = async (service: ServiceName): Promise<void> => {
    const lines = logs.get(service) ?? [];
    logs.set(service, lines);
    const { child, port, exited } = await spawn(service, lines, envOf(service));
    const entry: Running = { child, port, stopping: false, exited };
    ports.set(service, port);
    running.set(service, entry);
    child.once('exit', (code) => {
      if (running.get(service) === entry) running.delete(service);
      if (!entry.stopping) options.onUnexpectedExit?.(service, code);
    });
  };

  const replicas = new Set<Replica>();
  const startReplica = async (service: SubgraphName): Promise<Replica> => {
    const lines: string[] = [];
    const prefix = `${service.toUpperCase()}_`;
    const { child, port, exited } = await spawn(service, lines, {
      ...envOf(service),
      [`${prefix}PORT`]: '0',
    });
    const end = async (signal: NodeJS.Signals): Promise<void> => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
      replicas.delete(replica);
    };
    const replica: Replica = {
      port,
      pid: child.pid,
      logs: () => lines,
      stop: () => end('SIGTERM'),
      kill: () => end('SIGKILL'),
    };
    replicas.add(replica);
    return replica;
  };

  const stopService = async (service: ServiceName): Promise<void> => {
    const entry = running.get(service);
    if (!entry) return;
    entry.stopping = true;
    entry.child.kill('SIGTERM');
    const timer = setTimeout(() => entry.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await entry.exited;
    clearTimeout(timer);
    running.delete(service);
  };

  const stop = async (): Promise<void> => {
    clearInterval(renewal);
    await Promise.all([...replicas].map((replica) => replica.stop()));
    await stopService('gateway');
    await Promise.all(SUBGRAPH_NAMES.map((name) => stopService(name)));
  };

  try {
    await launch('audit');
    await Promise.all(PRODUCERS.map((name) => launch(name)));
    await launch('gateway');
    await waitUntilReady(`${urlOf('gateway')}/readyz`, certificates.caFile);
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    gatewayUrl: `${urlOf('gateway')}/graphql`,
    caFile: certificates.caFile,
    get initialAdmin() {
      return initialAdmin;
    },
    port: (service) => {
      const port = ports.get(service);
      if (port === undefined) throw new Error(`${service} has not started`);
      return port;
    },
    url: (service) => urlOf(service),
    pid: (service) => running.get(service)?.child.pid,
    logs: (service) => logs.get(service) ?? [],
    stopService,
    startService: async (service) => {
      if (running.has(service)) return;
      await launch(service);
    },
    startReplica,
    stop,
  };
}

/** What a service is told when the user configured nothing: ports, data, keys, its peers. */
function serviceDefaults(
  service: ServiceName,
  prefix: string,
  dataDir: string,
  secrets: Secrets,
  certificates: CertificateDirectory,
  urlOf: (service: ServiceName) => string,
): Record<string, string> {
  const key = (pair: PairName): string => secrets[pair];
  const defaults: Record<string, string> = {
    [`${prefix}PORT`]: String(DEFAULT_PORTS[service]),
    // Its own certificate of the internal authority, and that authority alone to check peers by;
    // for the gateway, its edge certificate too.
    ...certificates.variables(service),
  };
  if (service === 'gateway') {
    defaults.GATEWAY_NODE_OPTIONS = GATEWAY_NODE_OPTIONS;
    defaults.GATEWAY_TOKEN_KEYS = secrets['token-keys'];
    for (const subgraph of SUBGRAPH_NAMES) {
      const upper = subgraph.toUpperCase();
      defaults[`GATEWAY_${upper}_URL`] = `${urlOf(subgraph)}/graphql`;
      defaults[`GATEWAY_KEY_${upper}`] = key(`gateway-${subgraph}`);
    }
    return defaults;
  }
  defaults[`${prefix}DATA_DIR`] = join(dataDir, service);
  defaults[`${prefix}KEY_GATEWAY`] = key(`gateway-${service}`);
  if (service === 'aaa') {
    defaults.AAA_TOKEN_KEYS = secrets['token-keys'];
    defaults.AAA_SECRET_KEY = secrets['aaa-secret-key'];
    defaults.AAA_API_KEY_PEPPER = secrets['aaa-api-key-pepper'];
  }
  if (service === 'devices') {
    // On one machine, routers may also be simulated ones on this host (`npm run sim`).
    defaults.DEVICES_ROUTER_NETWORKS = `${DEFAULT_ROUTER_NETWORKS},127.0.0.0/8`;
    defaults.DEVICES_ENROLL_URL = `${urlOf('gateway')}/enroll`;
    // Each tenant's device quota is its plan's: billing pushes it, and devices asks when it
    // knows none. One pair key, both ways: each signature names its caller.
    defaults.DEVICES_BILLING_URL = urlOf('billing');
    defaults.DEVICES_KEY_BILLING = key('billing-devices');
  }
  if (service === 'billing') {
    defaults.BILLING_DEVICES_URL = urlOf('devices');
    defaults.BILLING_KEY_DEVICES = key('billing-devices');
  }
  if (service === 'audit') {
    for (const producer of PRODUCERS)
      defaults[`AUDIT_KEY_${producer.toUpperCase()}`] = key(`${producer}-audit`);
    // The owners audit asks to restore their entities, signed with the same pair keys.
    defaults.AUDIT_DEVICES_URL = urlOf('devices');
    defaults.AUDIT_BILLING_URL = urlOf('billing');
  } else {
    defaults[`${prefix}AUDIT_URL`] = urlOf('audit');
    defaults[`${prefix}KEY_AUDIT`] = key(`${service}-audit`);
  }
  return defaults;
}

async function waitUntilReady(url: string, caFile: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last = 'no answer';
  // The gateway's default certificate is the internal authority's; one configured instead is
  // checked against the system's authorities as well.
  const agent = new Agent({ connect: { ca: [...tls.rootCertificates, readFileSync(caFile, 'utf8')] } });
  try {
    while (Date.now() < deadline) {
      try {
        const response = await fetch(url, { signal: AbortSignal.timeout(5_000), dispatcher: agent });
        if (response.ok) return;
        last = `${response.status} ${await response.text()}`;
      } catch (error) {
        last = describeFetchError(error);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  } finally {
    await agent.close();
  }
  throw new Error(`The gateway did not become ready: ${last}`);
}

/** A failed fetch's message with its cause, which holds the reason (a refused certificate, say). */
function describeFetchError(error: unknown): string {
  const cause = (error as { cause?: unknown }).cause;
  const message = (error as Error).message;
  return cause instanceof Error ? `${message}: ${cause.message}` : message;
}

/** A port nothing listens on right now, on loopback. */
function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolvePort(port));
    });
  });
}
