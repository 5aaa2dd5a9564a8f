import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { gatewayConfigSpec, startGateway, type GatewayOptions } from '@fleet/gateway';
import { startFederation } from '@fleet/launcher';
import { startSimulator } from '@fleet/routeros-sim';
import { createLogger, loadConfig, type StartedService } from '@fleet/service-kit';
import { addMember, choosePlan, createTenant, graphql, LOGIN, signInAdmin } from './bench-federation.js';
import { BenchTls } from './bench-tls.js';
import { commandLineOptions } from './command-line.js';

/**
 * The price of the gateway's protections: an authenticated query over three subgraphs (devices,
 * enrolled from simulated routers, their tenant's name from aaa, its plan from billing) through the same gateway with every
 * protection on (operation limits, cost and rate limits, field authorization, trusted-document
 * check) and with them off (authentication and signing stay: subgraphs answer nothing else).
 * Both gateways run in this process, one loaded at a time, in alternating rounds; the load comes
 * from autocannon in a process of its own, on loopback.
 *
 *   npm run bench:protection -- --rounds 3 --seconds 10 --connections 16 [--redis redis://127.0.0.1:6379]
 */
const args = commandLineOptions();
const rounds = Number(args.get('rounds') ?? 3);
const seconds = Number(args.get('seconds') ?? 10);
const connections = Number(args.get('connections') ?? 16);
const redisUrl = args.get('redis');
const DEVICES = 10;

const QUERY = `query Fleet($tenant: ID!) {
  devices(tenantId: $tenant) { id name host tenant { name plan { name deviceQuota } } }
}`;

const simulator = await startSimulator({ routers: DEVICES });
const dataDir = await mkdtemp(join(tmpdir(), 'fleet-bench-'));
const quiet = (service: string) => ({ [`${service.toUpperCase()}_LOG_LEVEL`]: 'warn' });
const federation = await startFederation({
  dataDir,
  env: {},
  ports: { gateway: 0, aaa: 0, devices: 0, billing: 0, audit: 0 },
  overrides: {
    gateway: quiet('gateway'),
    aaa: quiet('aaa'),
    devices: quiet('devices'),
    billing: quiet('billing'),
    audit: quiet('audit'),
  },
  output: 'capture',
});
const pki = BenchTls.of(federation);
const gateways: StartedService[] = [];

/** A gateway in this process in front of the federation's subgraphs; budgets too large to reach. */
async function benchGateway(options: GatewayOptions): Promise<StartedService> {
  const secrets = JSON.parse(readFileSync(join(dataDir, 'secrets.json'), 'utf8')) as Record<string, string>;
  const env: Record<string, string> = {
    GATEWAY_PORT: '0',
    GATEWAY_TOKEN_KEYS: secrets['token-keys']!,
    GATEWAY_RATE_LIMIT_TIERS: 'bench=100000000/100000000/100000000',
    GATEWAY_RATE_LIMIT_DEFAULT_TIER: 'bench',
    GATEWAY_RATE_LIMIT_ADDRESS_REQUESTS: '100000000',
    // Every connection sends the same query as the same person: merged, most requests would
    // execute nothing of their own, and this measures each request's own execution.
    GATEWAY_REQUEST_MERGING: 'false',
    // The gateway's own certificates: mutual TLS to the subgraphs, HTTPS to its clients.
    ...pki.env('gateway'),
    ...(redisUrl
      ? { GATEWAY_REDIS_URL: redisUrl, GATEWAY_RATE_LIMIT_NAMESPACE: `bench-${process.pid}` }
      : {}),
  };
  for (const subgraph of ['aaa', 'devices', 'billing', 'audit']) {
    env[`GATEWAY_${subgraph.toUpperCase()}_URL`] = `${federation.url(subgraph as 'aaa')}/graphql`;
    env[`GATEWAY_KEY_${subgraph.toUpperCase()}`] = secrets[`gateway-${subgraph}`]!;
  }
  const config = loadConfig(gatewayConfigSpec, 'GATEWAY_', env);
  const gateway = await startGateway(config, createLogger({ service: 'gateway', level: 'warn' }), options);
  gateways.push(gateway);
  return gateway;
}

interface Round {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  cpuMsPerRequest: number;
}

/** Drives a gateway with autocannon for `duration` seconds; counts only correct (200) answers. */
async function load(url: string, token: string, tenantId: string, duration = seconds): Promise<Round> {
  const autocannon = createRequire(import.meta.url).resolve('autocannon');
  const body = JSON.stringify({ query: QUERY, variables: { tenant: tenantId } });
  const cpuBefore = process.cpuUsage();
  const output = await new Promise<string>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        autocannon,
        '--json',
        '--connections',
        String(connections),
        '--duration',
        String(duration),
        '--method',
        'POST',
        '--headers',
        'content-type=application/json',
        '--headers',
        `authorization=Bearer ${token}`,
        '--body',
        body,
        url,
      ],
      // A client of the gateway's HTTPS: Node in that process trusts the federation's authority.
      { stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, NODE_EXTRA_CA_CERTS: pki.caFile } },
    );
    let text = '';
    child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve(text) : reject(new Error(`autocannon exited with ${code}`)),
    );
  });
  const cpu = process.cpuUsage(cpuBefore);
  const result = JSON.parse(output) as {
    requests: { average: number; total: number };
    latency: { p50: number; p99: number };
    non2xx: number;
    errors: number;
  };
  if (result.non2xx > 0 || result.errors > 0) {
    throw new Error(
      `${result.non2xx} non-2xx answers and ${result.errors} errors: the comparison would be unfair`,
    );
  }
  return {
    requestsPerSecond: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    cpuMsPerRequest: (cpu.user + cpu.system) / 1000 / result.requests.total,
  };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

try {
  const url = federation.gatewayUrl;
  const adminToken = await signInAdmin(federation);
  const tenant = { id: await createTenant(url, adminToken, 'bench'), slug: 'bench' };
  await choosePlan(url, adminToken, tenant.id, 'enterprise');
  for (const router of simulator.inventory()) {
    const reach = {
      host: router.host,
      port: router.tlsPort,
      username: router.username,
      password: router.password,
      tls: { mode: 'PINNED', fingerprint: router.fingerprint256 },
    };
    await graphql(
      url,
      'mutation($i: CreateDeviceInput!) { createDevice(input: $i) { id } }',
      { i: { tenantId: tenant.id, name: router.name, ...reach } },
      adminToken,
    );
  }
  const owner = await addMember(url, adminToken, tenant, 'owner@bench.example', ['owner']);
  const token = (await graphql<{ login: { accessToken: string } }>(url, LOGIN, { i: owner })).login
    .accessToken;

  const variants = { protected: {}, unprotected: { unprotected: true } } as const;
  const results: Record<keyof typeof variants, Round[]> = { protected: [], unprotected: [] };
  for (let round = 0; round < rounds; round++) {
    // Each round swaps which goes first, so neither always meets a colder or warmer process.
    const order = Object.entries(variants) as [keyof typeof variants, GatewayOptions][];
    if (round % 2 === 1) order.reverse();
    for (const [name, options] of order) {
      const gateway = await benchGateway(options);
      const gatewayUrl = `https://127.0.0.1:${gateway.port}/graphql`;
      // Correct before timed: every device with its tenant's name and plan.
      const answer = await graphql<{ devices: { tenant: { name: string; plan: { name: string } } }[] }>(
        gatewayUrl,
        QUERY,
        { tenant: tenant.id },
        token,
      );
      if (
        answer.devices.length !== DEVICES ||
        answer.devices.some((d) => d.tenant.name !== 'bench' || !d.tenant.plan.name)
      ) {
        throw new Error(`Unexpected answer: ${JSON.stringify(answer).slice(0, 300)}`);
      }
      // Warm-up, untimed: the JIT, the plan cache and the connection pools.
      await load(gatewayUrl, token, tenant.id, 2);
      results[name].push(await load(gatewayUrl, token, tenant.id));
      await gateway.stop();
      gateways.splice(gateways.indexOf(gateway), 1);
    }
  }
  const summary = Object.fromEntries(
    Object.entries(results).map(([name, list]) => [
      name,
      {
        requestsPerSecond: Math.round(median(list.map((r) => r.requestsPerSecond))),
        p50Ms: median(list.map((r) => r.p50Ms)),
        p99Ms: median(list.map((r) => r.p99Ms)),
        gatewayCpuMsPerRequest: Number(median(list.map((r) => r.cpuMsPerRequest)).toFixed(2)),
      },
    ]),
  ) as unknown as Record<keyof typeof variants, { requestsPerSecond: number; p99Ms: number }>;
  const cost = 1 - summary.protected.requestsPerSecond / summary.unprotected.requestsPerSecond;
  console.log(
    JSON.stringify(
      {
        rounds,
        seconds,
        connections,
        rateLimitStore: redisUrl ? 'redis' : 'memory',
        cores: availableParallelism(),
        ...summary,
        throughputCostPercent: Number((cost * 100).toFixed(1)),
        perRound: results,
      },
      null,
      2,
    ),
  );
} finally {
  await Promise.all(gateways.map((gateway) => gateway.stop()));
  await federation.stop();
  await simulator.close();
  await rm(dataDir, { recursive: true, force: true });
}
