import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createClient, type Client } from 'graphql-ws';
import { startFederation, type Federation } from '@fleet/launcher';
import { signSubscription, SUBSCRIPTION_SIGNATURE_EXTENSION } from '@fleet/request-signing';
import { encodePrincipal, signedWebSocket, type Principal } from '@fleet/service-kit';
import { addMember, choosePlan, createTenant, graphql, LOGIN, signInAdmin } from './bench-federation.js';
import { BenchTls } from './bench-tls.js';
import { startCpuProfile } from './cpu-profile.js';
import { processUsage } from './process-usage.js';
import { startSimulatorProcess } from './simulator-process.js';
import { commandLineOptions } from './command-line.js';

/**
 * Live status of a fleet: one simulator process with N routers (1,000 by default) enrolled
 * through the gateway into one tenant, and the devices subgraph polling each of them every
 * interval (10 s by default) on its kept connection, as `npm start` runs it. Once every device
 * is online, a measured window: the devices process's CPU and memory (from /proc; on PGlite the
 * database runs inside it), the simulator's CPU, and the polls seen by one subscriber to the
 * tenant's `deviceStatusChanged`, connected straight to the devices subgraph as the gateway
 * connects. Loopback only; bounded in time; everything it started is stopped and its data deleted.
 *
 *   npm run bench:status -- [--routers 1000] [--interval-ms 10000] [--seconds 60] [--cpu-prof DIR]
 *
 * `--cpu-prof DIR` writes a CPU profile of the devices process over the measured window into DIR
 * (its inspector opened on 127.0.0.1:9229 for that; the profiler's own cost is in the figures).
 */
const args = commandLineOptions();
const ROUTERS = Number(args.get('routers') ?? 1_000);
const INTERVAL_MS = Number(args.get('interval-ms') ?? 10_000);
const SECONDS = Number(args.get('seconds') ?? 60);
const CPU_PROF_DIR = args.has('cpu-prof') ? resolve(args.get('cpu-prof')!) : undefined;
/** Enrollments under way at once: each one logs in to its router before the device is stored. */
const ENROLL_CONCURRENCY = 8;
/** How long every device gets to come online once enrolled. */
const ONLINE_DEADLINE_MS = Math.max(120_000, 6 * INTERVAL_MS);

const STATUSES = 'query($t: ID!) { devices(tenantId: $t) { id status { state } } }';
const CHANGES = `subscription($t: ID) { deviceStatusChanged(tenantId: $t) { device { id } state checkedAt error } }`;

interface StatusEvent {
  device: { id: string } | null;
  state: string;
  checkedAt: string | null;
  error: string | null;
}

if (CPU_PROF_DIR) await mkdir(CPU_PROF_DIR, { recursive: true });
const sim = await startSimulatorProcess(ROUTERS);
const dataDir = await mkdtemp(join(tmpdir(), 'fleet-bench-'));
let federation: Federation | undefined;
let pki: BenchTls | undefined;
let subscriber: Client | undefined;

/** The federation as `npm start` runs it, with the interval of the run (the tenant is put on the enterprise plan). */
const launch = () =>
  startFederation({
    dataDir,
    env: {},
    ports: { gateway: 0, aaa: 0, devices: 0, billing: 0, audit: 0 },
    overrides: {
      // Every call comes from one address and one person here: budgets out of reach, as in the tests.
      gateway: {
        GATEWAY_LOG_LEVEL: 'warn',
        GATEWAY_RATE_LIMIT_SIGN_IN_REQUESTS: '100000',
        GATEWAY_RATE_LIMIT_ADDRESS_REQUESTS: '100000000',
        GATEWAY_RATE_LIMIT_TIERS: 'standard=100000000/100000000/100000000',
      },
      devices: {
        DEVICES_LOG_LEVEL: 'warn',
        DEVICES_STATUS_INTERVAL_MS: String(INTERVAL_MS),
      },
      aaa: { AAA_LOG_LEVEL: 'warn' },
      billing: { BILLING_LOG_LEVEL: 'warn' },
      audit: { AUDIT_LOG_LEVEL: 'warn' },
    },
    output: 'capture',
  });

/** The key of the gateway/devices pair, which signs the upgrade and each subscription. */
const devicesKey = () => {
  const secrets = JSON.parse(readFileSync(join(dataDir, 'secrets.json'), 'utf8')) as Record<string, string>;
  return Buffer.from(secrets['gateway-devices']!, 'base64url');
};

/**
 * A graphql-ws client straight to the devices subgraph as the gateway connects: over mutual TLS
 * with the gateway's certificate, the upgrade signed with the gateway/devices key and no principal
 * (see `signedSubscription`).
 */
function devicesWsClient(federation: Federation, pki: BenchTls): Client {
  const key = devicesKey();
  return createClient({
    url: `${federation.url('devices').replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: signedWebSocket({
      caller: 'gateway',
      audience: 'devices',
      key,
      path: '/graphql',
      tls: pki.tls('gateway'),
    }),
    retryAttempts: 0,
  });
}

/** A subscribe payload signed for its principal, as the gateway signs each subscription. */
function signedSubscription(query: string, variables: Record<string, unknown>, principal: Principal) {
  const signature = signSubscription({
    caller: 'gateway',
    audience: 'devices',
    key: devicesKey(),
    payload: { query, variables },
    principal: encodePrincipal(principal),
    requestId: `bench-${randomUUID()}`,
    now: Date.now(),
  });
  return { query, variables, extensions: { [SUBSCRIPTION_SIGNATURE_EXTENSION]: signature } };
}

/** Progress on stderr; the results alone go to stdout. */
const progress = (message: string) => process.stderr.write(`${message}\n`);
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));
const percentile = (sorted: readonly number[], p: number) =>
  sorted.length === 0 ? null : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;

try {
  federation = await launch();
  pki = BenchTls.of(federation);
  progress('Federation started; enrolling');
  const url = federation.gatewayUrl;
  const adminToken = await signInAdmin(federation);
  const tenant = { id: await createTenant(url, adminToken, 'bench'), slug: 'bench' };
  await choosePlan(url, adminToken, tenant.id, 'enterprise');
  // The tenant's owner enrolls and watches; signed in again before the access token runs out.
  const owner = await addMember(url, adminToken, tenant, 'owner@bench.example', ['owner']);
  let session: { token: Promise<string>; at: number } | undefined;
  const token = () => {
    if (!session || Date.now() - session.at > 10 * 60_000) {
      const login = graphql<{ login: { accessToken: string } }>(url, LOGIN, { i: owner });
      session = { token: login.then((answer) => answer.login.accessToken), at: Date.now() };
    }
    return session.token;
  };
  const statesNow = async () =>
    (
      await graphql<{ devices: { id: string; status: { state: string } }[] }>(
        url,
        STATUSES,
        { t: tenant.id },
        await token(),
      )
    ).devices;

  // Enrollment, not measured: every router pinned by its certificate, a few at a time.
  const enrollStart = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: ENROLL_CONCURRENCY }, async () => {
      while (next < sim.inventory.length) {
        const router = sim.inventory[next++]!;
        await graphql(
          url,
          'mutation($i: CreateDeviceInput!) { createDevice(input: $i) { id } }',
          {
            i: {
              tenantId: tenant.id,
              name: router.name,
              host: router.host,
              port: router.tlsPort,
              username: router.username,
              password: router.password,
              tls: { mode: 'PINNED', fingerprint: router.fingerprint256 },
            },
          },
          await token(),
        );
      }
    }),
  );
  const enrollSeconds = (performance.now() - enrollStart) / 1000;
  progress(`${ROUTERS} devices enrolled in ${enrollSeconds.toFixed(1)} s; waiting for all to be online`);

  const onlineStart = performance.now();
  for (;;) {
    const devices = await statesNow();
    if (devices.length === ROUTERS && devices.every((device) => device.status.state === 'ONLINE')) break;
    if (performance.now() - onlineStart > ONLINE_DEADLINE_MS) {
      const online = devices.filter((device) => device.status.state === 'ONLINE').length;
      throw new Error(`Only ${online} of ${ROUTERS} devices came online within ${ONLINE_DEADLINE_MS} ms`);
    }
    await sleep(1_000);
  }
  const onlineSeconds = (performance.now() - onlineStart) / 1000;
  progress(`All online after ${onlineSeconds.toFixed(1)} s; subscribing, one interval of warm-up`);

  // One subscriber to the whole tenant, as a fleet dashboard would be: every poll is an event.
  subscriber = devicesWsClient(federation, pki);
  let measuring = false;
  let events = 0;
  let failedPolls = 0;
  let subscriptionError: unknown;
  const polledDevices = new Set<string>();
  const lastCheck = new Map<string, number>();
  const gaps: number[] = [];
  subscriber.subscribe<{ deviceStatusChanged: StatusEvent }>(
    signedSubscription(
      CHANGES,
      { t: tenant.id },
      {
        kind: 'user',
        userId: randomUUID(),
        tenantId: tenant.id,
        roles: ['viewer'],
        scopes: ['devices:read'],
        sessionId: randomUUID(),
      },
    ),
    {
      next: ({ data }) => {
        const status = data?.deviceStatusChanged;
        if (!measuring || !status?.device || !status.checkedAt) return;
        events++;
        if (status.error !== null) failedPolls++;
        polledDevices.add(status.device.id);
        const at = Date.parse(status.checkedAt);
        const before = lastCheck.get(status.device.id);
        if (before !== undefined) gaps.push(at - before);
        lastCheck.set(status.device.id, at);
      },
      error: (error) => (subscriptionError = error),
      complete: () => {},
    },
  );
  // Warm-up: one interval, so every device has been polled with the subscriber connected.
  await sleep(INTERVAL_MS);
  if (subscriptionError) throw new Error(`The subscription failed: ${JSON.stringify(subscriptionError)}`);

  const devicesPid = federation.pid('devices')!;
  const start = {
    time: performance.now(),
    devices: processUsage(devicesPid),
    sim: processUsage(sim.pid),
    bench: process.cpuUsage(),
  };
  const profile = CPU_PROF_DIR ? await startCpuProfile(devicesPid, 'subgraphs/devices/') : undefined;
  measuring = true;
  progress(`Measuring for ${SECONDS} s`);
  await sleep(SECONDS * 1_000);
  measuring = false;
  const elapsed = (performance.now() - start.time) / 1000;
  const end = {
    devices: processUsage(devicesPid),
    sim: processUsage(sim.pid),
    bench: process.cpuUsage(start.bench),
  };
  if (profile) {
    const file = join(CPU_PROF_DIR!, `devices-${ROUTERS}-routers-${Date.now()}.cpuprofile`);
    await writeFile(file, JSON.stringify(await profile.stop()));
    progress(`CPU profile of the window: ${file}`);
  }
  if (subscriptionError) throw new Error(`The subscription failed: ${JSON.stringify(subscriptionError)}`);
  const notOnline = (await statesNow()).filter((device) => device.status.state !== 'ONLINE').length;

  gaps.sort((a, b) => a - b);
  const cores = (from: { cpuSeconds: number }, to: { cpuSeconds: number }) =>
    Number(((to.cpuSeconds - from.cpuSeconds) / elapsed).toFixed(3));
  const devicesCores = cores(start.devices, end.devices);
  console.log(
    JSON.stringify(
      {
        routers: ROUTERS,
        intervalMs: INTERVAL_MS,
        seconds: Math.round(elapsed),
        cores: availableParallelism(),
        database: 'PGlite, inside the devices process',
        enrollSeconds: Number(enrollSeconds.toFixed(1)),
        allOnlineSeconds: Number(onlineSeconds.toFixed(1)),
        pollsPerSecond: Number((events / elapsed).toFixed(1)),
        expectedPollsPerSecond: Number(((ROUTERS * 1000) / INTERVAL_MS).toFixed(1)),
        devicesPolledInWindow: polledDevices.size,
        failedPolls,
        notOnlineAtEnd: notOnline,
        pollGapMs: { p50: percentile(gaps, 0.5), p99: percentile(gaps, 0.99), max: gaps.at(-1) ?? null },
        devicesCores,
        devicesCpuMsPerPoll:
          events > 0 ? Number(((devicesCores * elapsed * 1000) / events).toFixed(2)) : null,
        devicesRssMb: Number((end.devices.rssBytes / 2 ** 20).toFixed(1)),
        devicesRssAtWindowStartMb: Number((start.devices.rssBytes / 2 ** 20).toFixed(1)),
        simulatorCores: cores(start.sim, end.sim),
        simulatorRssMb: Number((end.sim.rssBytes / 2 ** 20).toFixed(1)),
        subscriberCores: Number(((end.bench.user + end.bench.system) / 1e6 / elapsed).toFixed(3)),
      },
      null,
      2,
    ),
  );
} finally {
  await subscriber?.dispose();
  await pki?.close();
  await federation?.stop();
  await sim.stop();
  await rm(dataDir, { recursive: true, force: true });
}
