import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { issueAccessToken, parseTokenKeyRing, type TokenKeyRing } from '@fleet/access-tokens';
import { forEachBounded, loadOrCreateSecrets, startFederation, type Federation } from '@fleet/launcher';
import { createBenchDatabases } from './bench-databases.js';
import { BenchTls } from './bench-tls.js';
import { DevicesProbe } from './devices-probe.js';
import { createTenant, graphql, signInAdmin } from './bench-federation.js';
import { startCpuProfile } from './cpu-profile.js';
import { openInspector, watchLoop, type InspectorSession } from './inspector.js';
import { cpuPressureSeconds, machineCpu, processUsage } from './process-usage.js';
import { startSimulatorProcess } from './simulator-process.js';
import { redisCpuSeconds, StatusPublications } from './status-publications.js';
import { SubscriberThreads, type Subscriber, type ThreadStatus } from './subscriber-threads.js';
import { commandLineOptions } from './command-line.js';

/**
 * Federated subscriptions at scale: many subscribers on one gateway process, each its own
 * graphql-ws connection, receiving the devices subgraph's status events.
 *
 * One simulated router per tenant (`--tenants`, 100), polled every `--interval-ms` (2,000): with
 * 100 tenants, 50 status events a second published through Redis. `--subscribers-per-tenant`
 * (100) people of each tenant subscribe to `deviceStatusChanged(tenantId)`: 10,000 subscribers
 * and 5,000 deliveries a second. Each subscriber has an access token of its own, minted with the
 * federation's token keys as aaa mints them; `--principals-per-tenant N` (default: one per
 * subscriber) gives each tenant only N identities, so that identical subscriptions of one
 * identity share one subscription on the subgraph.
 *
 * Measured over a steady window (`--seconds`, 30, after every subscriber received an event and a
 * warm-up of `--warmup-seconds`, 10), for every event published in it (as this process's own Redis
 * subscription sees them) and each of its deliveries:
 * - the latency from its publication (the poll's `checkedAt`, set by the devices process just
 *   before it publishes; whole milliseconds) to its receipt by the client; also from its arrival
 *   here through Redis (sub-millisecond, but late whenever this process is not scheduled), of each
 *   event's first delivery, the spread of its deliveries, and for a subscriber of each tenant
 *   straight on the devices subgraph (the subgraph's share);
 * - the deliveries a second at the clients, and any event not delivered to all its subscribers;
 * - CPU (from /proc) of the gateway, the devices process, the simulator, this process and Redis,
 *   the whole machine's, the gateway's memory; the gateway's and devices' event loop delay and
 *   garbage collection pauses (through each process's inspector, on a loopback port of its own).
 *
 * Before that, the memory of `--idle` (10,000) idle subscribers (`jobProgress(tenantId)`, which no
 * job feeds here; identities shared in the same proportion as the live ones): the gateway's
 * resident memory and JavaScript heap before they subscribe and once they all have, both after a full garbage collection, per subscriber; the devices process's
 * too. `--cpu-prof DIR` writes CPU profiles of the gateway and devices processes over the window
 * (the profilers' cost is then in the figures), `--heap-profile DIR` a sampling heap profile of
 * what the idle subscribers keep alive in the gateway. `--semi-space-mb N` gives the gateway and
 * devices processes a young generation of N MB per semi-space (`--max-semi-space-size`), as a
 * deployment tuned for this load could.
 *
 *   npm run bench:subscriptions -- [--tenants 100] [--subscribers-per-tenant 100]
 *     [--principals-per-tenant 100] [--interval-ms 2000] [--seconds 30] [--warmup-seconds 10]
 *     [--idle 10000] [--client-threads 2] [--redis redis://127.0.0.1:6379]
 *     [--postgres postgres://postgres@127.0.0.1:5432/postgres] [--cpu-prof DIR] [--heap-profile DIR]
 *     [--semi-space-mb 64]
 *
 * Loopback only; bounded in time; everything it started is stopped and its data removed.
 */
const args = commandLineOptions();
const whole = (name: string, fallback: number, min = 1): number => {
  const value = Number(args.get(name) ?? fallback);
  if (!Number.isInteger(value) || value < min) throw new Error(`--${name} must be a whole number ≥ ${min}`);
  return value;
};
const TENANTS = whole('tenants', 100);
const PER_TENANT = whole('subscribers-per-tenant', 100);
const PRINCIPALS = whole('principals-per-tenant', PER_TENANT);
const INTERVAL_MS = whole('interval-ms', 2_000, 100);
const SECONDS = whole('seconds', 30);
const WARMUP_SECONDS = whole('warmup-seconds', 10, 0);
const IDLE = whole('idle', 10_000, 0);
const THREADS = whole('client-threads', 2);
const SEMI_SPACE_MB = args.has('semi-space-mb') ? whole('semi-space-mb', 16) : undefined;
const REDIS_URL = args.get('redis') ?? 'redis://127.0.0.1:6379';
const POSTGRES = args.get('postgres');
const CPU_PROF_DIR = args.has('cpu-prof') ? resolve(args.get('cpu-prof')!) : undefined;
const HEAP_PROF_DIR = args.has('heap-profile') ? resolve(args.get('heap-profile')!) : undefined;
if (PRINCIPALS > PER_TENANT)
  throw new Error('--principals-per-tenant cannot exceed --subscribers-per-tenant');
if (!['127.0.0.1', 'localhost', '[::1]'].includes(new URL(REDIS_URL).hostname))
  throw new Error('--redis must name a server on loopback');

/** Receipts still collected after the window, for the events published at its end. */
const GRACE_MS = 3_000;
/** Latency is also reported by slices of the window this long (s). */
const SLICE_S = 5;
/** How long every subscriber gets to receive its first event, once all are connected. */
const FIRST_EVENT_DEADLINE_MS = Math.max(60_000, 10 * INTERVAL_MS);
/** How long idle subscribers are given to be subscribed on the subgraph as well. */
const IDLE_SETTLE_MS = 5_000;
/** Access tokens live at most 15 minutes; each phase mints its own just before it subscribes. */
const TOKEN_TTL_S = 900;

const STATUS = 'subscription($t: ID) { deviceStatusChanged(tenantId: $t) { checkedAt device { id } } }';
const IDLE_QUERY = 'subscription($t: ID) { jobProgress(tenantId: $t) { status at } }';

/** Progress on stderr; the results alone go to stdout. */
const progress = (message: string) => process.stderr.write(`${message}\n`);
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));
const now = () => Number(process.hrtime.bigint()) / 1e6;
const mb = (bytes: number) => Number((bytes / 2 ** 20).toFixed(1));
const round = (value: number, digits = 2) => Number(value.toFixed(digits));

/** Percentiles of a sample, in ms. */
const distribution = (values: readonly number[]) => {
  const sorted = Float64Array.from(values).sort();
  const at = (p: number) =>
    sorted.length === 0 ? null : round(sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!);
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: at(1), min: at(0) };
};

/** A free port on loopback, for a service's inspector. */
const freePort = () =>
  new Promise<number>((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });

/** Everything started, stopped and removed in reverse order whatever happens. */
const cleanup: (() => Promise<void> | void)[] = [];
let finished = false;
try {
  if (CPU_PROF_DIR) await mkdir(CPU_PROF_DIR, { recursive: true });
  if (HEAP_PROF_DIR) await mkdir(HEAP_PROF_DIR, { recursive: true });
  const databases = POSTGRES ? await createBenchDatabases(POSTGRES) : undefined;
  if (databases) cleanup.unshift(() => databases.drop());
  const dataDir = await mkdtemp(join(tmpdir(), 'fleet-bench-'));
  cleanup.unshift(() => rm(dataDir, { recursive: true, force: true }));
  const sim = await startSimulatorProcess(TENANTS);
  cleanup.unshift(() => sim.stop());

  const namespace = `fleet-bench-${randomBytes(4).toString('hex')}`;
  const publications = await StatusPublications.start(REDIS_URL, namespace);
  cleanup.unshift(() => publications.stop());
  const inspectorPorts = { gateway: await freePort(), devices: await freePort() };
  /** Node's options for the gateway and devices: an inspector port each, and the young generation's size if asked. */
  const nodeOptions = (port: number) =>
    [
      `--inspect-port=127.0.0.1:${port}`,
      ...(SEMI_SPACE_MB ? [`--max-semi-space-size=${SEMI_SPACE_MB}`] : []),
    ].join(' ');
  const federation: Federation = await startFederation({
    dataDir,
    env: {},
    ports: { gateway: 0, aaa: 0, devices: 0, billing: 0, audit: 0 },
    overrides: {
      // One address opens every connection; every subscriber of a tenant counts against the
      // tenant's caps, and with shared identities against one person's: all out of reach.
      gateway: {
        GATEWAY_LOG_LEVEL: 'warn',
        GATEWAY_RATE_LIMIT_SIGN_IN_REQUESTS: '100000',
        GATEWAY_RATE_LIMIT_ADDRESS_REQUESTS: '100000000',
        GATEWAY_RATE_LIMIT_TIERS: 'standard=100000000/100000000/100000000',
        GATEWAY_MAX_SUBSCRIPTIONS: '1000000',
        GATEWAY_MAX_SUBSCRIPTIONS_PER_TENANT: '1000000',
        GATEWAY_MAX_SUBSCRIPTIONS_PER_PRINCIPAL: '100000',
        GATEWAY_MAX_SUBSCRIPTION_CONNECTIONS_PER_PRINCIPAL: '10000',
        GATEWAY_NODE_OPTIONS: nodeOptions(inspectorPorts.gateway),
      },
      devices: {
        ...databases?.overrides.devices,
        DEVICES_LOG_LEVEL: 'warn',
        DEVICES_STATUS_INTERVAL_MS: String(INTERVAL_MS),
        DEVICES_REDIS_URL: REDIS_URL,
        DEVICES_REDIS_NAMESPACE: namespace,
        DEVICES_NODE_OPTIONS: nodeOptions(inspectorPorts.devices),
      },
      aaa: { ...databases?.overrides.aaa, AAA_LOG_LEVEL: 'warn' },
      audit: { ...databases?.overrides.audit, AUDIT_LOG_LEVEL: 'warn' },
      billing: { ...databases?.overrides.billing, BILLING_LOG_LEVEL: 'warn' },
    },
    output: 'capture',
  });
  cleanup.unshift(() => federation.stop());
  const pki = BenchTls.of(federation);
  cleanup.unshift(() => pki.close());
  // A failed run says what the gateway and devices logged (warnings and errors only).
  cleanup.unshift(() => {
    if (finished) return;
    for (const service of ['gateway', 'devices'] as const)
      for (const line of federation.logs(service).slice(-20)) progress(`${service}: ${line}`);
  });
  const gatewayPid = federation.pid('gateway')!;
  const devicesPid = federation.pid('devices')!;
  const url = federation.gatewayUrl;
  progress(`Federation started (${POSTGRES ? 'PostgreSQL' : 'PGlite'}); ${TENANTS} tenants, a router each`);

  // Tenants and their routers, not measured: one router per tenant, pinned by its certificate.
  const adminToken = await signInAdmin(federation);
  const tenants: { id: string; deviceId: string }[] = [];
  await forEachBounded(sim.inventory, 8, async (router, i) => {
    const tenantId = await createTenant(url, adminToken, `bench-${i}`);
    const created = await graphql<{ createDevice: { id: string } }>(
      url,
      'mutation($i: CreateDeviceInput!) { createDevice(input: $i) { id } }',
      {
        i: {
          tenantId,
          name: router.name,
          host: router.host,
          port: router.tlsPort,
          username: router.username,
          password: router.password,
          tls: { mode: 'PINNED', fingerprint: router.fingerprint256 },
        },
      },
      adminToken,
    );
    tenants.push({ id: tenantId, deviceId: created.createDevice.id });
  });
  const onlineSince = performance.now();
  while (!tenants.every((tenant) => publications.states.get(tenant.deviceId) === 'online')) {
    if (performance.now() - onlineSince > FIRST_EVENT_DEADLINE_MS)
      throw new Error('Not every router came online (as published) in time');
    await sleep(500);
  }
  progress('Every router online; status events flowing through Redis');

  const parsedRing = parseTokenKeyRing(loadOrCreateSecrets(dataDir)['token-keys']);
  if ('error' in parsedRing) throw new Error(parsedRing.error);
  const ring: TokenKeyRing = parsedRing;
  /** Each tenant's subscribers, as `principals` people of that tenant with a token each. */
  const subscribersOf = async (
    perTenant: number,
    principals: number,
    query: string,
  ): Promise<Subscriber[]> => {
    const subscribers: Subscriber[] = [];
    for (const tenant of tenants) {
      const tokens: string[] = [];
      for (let p = 0; p < principals; p++) {
        const issued = await issueAccessToken(
          ring,
          {
            userId: randomUUID(),
            tenantId: tenant.id,
            roles: ['viewer'],
            scopes: ['devices:read', 'tenant:read'],
            sessionId: randomUUID(),
          },
          { ttlSeconds: TOKEN_TTL_S },
        );
        tokens.push(issued.token);
      }
      for (let s = 0; s < perTenant; s++)
        subscribers.push({ token: tokens[s % principals]!, query, variables: { t: tenant.id } });
    }
    return subscribers;
  };
  const threads = await SubscriberThreads.start(THREADS, url.replace(/^http/, 'ws'), pki.ca);
  cleanup.unshift(() => threads.stop());
  const failIfTroubled = (status: ThreadStatus, what: string, expected: number) => {
    if (
      status.connected !== expected ||
      status.failed > 0 ||
      status.closedAfterConnect > 0 ||
      status.subscriptionErrors > 0 ||
      status.completed > 0
    ) {
      throw new Error(`${what}: ${JSON.stringify(status)}`);
    }
  };

  // Idle subscribers' memory: the same connections and subscriptions, on a channel nothing feeds.
  let idle: Record<string, unknown> | null = null;
  if (IDLE > 0) {
    const perTenant = Math.ceil(IDLE / TENANTS);
    const idlePrincipals = Math.max(1, Math.round((perTenant * PRINCIPALS) / PER_TENANT));
    const subscribers = (await subscribersOf(perTenant, idlePrincipals, IDLE_QUERY)).slice(0, IDLE);
    const sessions = {
      gateway: await openInspector(gatewayPid, 'gateway/', inspectorPorts.gateway),
      devices: await openInspector(devicesPid, 'subgraphs/devices/', inspectorPorts.devices),
    };
    const settled = async (session: InspectorSession, pid: number) => {
      await session.call('HeapProfiler.collectGarbage');
      const heap = (await session.call('Runtime.getHeapUsage')) as { usedSize: number };
      return { rssBytes: processUsage(pid).rssBytes, heapBytes: heap.usedSize };
    };
    try {
      const before = {
        gateway: await settled(sessions.gateway, gatewayPid),
        devices: await settled(sessions.devices, devicesPid),
      };
      // What the idle subscribers keep alive in the gateway, by where it was allocated.
      if (HEAP_PROF_DIR)
        await sessions.gateway.call('HeapProfiler.startSampling', { samplingInterval: 8192 });
      progress(`Opening ${subscribers.length} idle subscribers (${idlePrincipals} people per tenant)`);
      const openedAt = performance.now();
      const opened = await threads.open(subscribers);
      const openSeconds = (performance.now() - openedAt) / 1000;
      failIfTroubled(opened, 'Idle subscribers refused', subscribers.length);
      await sleep(IDLE_SETTLE_MS);
      failIfTroubled(await threads.status(), 'Idle subscribers troubled', subscribers.length);
      const unsettledRss = {
        gateway: processUsage(gatewayPid).rssBytes,
        devices: processUsage(devicesPid).rssBytes,
      };
      const after = {
        gateway: await settled(sessions.gateway, gatewayPid),
        devices: await settled(sessions.devices, devicesPid),
      };
      if (HEAP_PROF_DIR) {
        const { profile } = (await sessions.gateway.call('HeapProfiler.getSamplingProfile')) as {
          profile: unknown;
        };
        await sessions.gateway.call('HeapProfiler.stopSampling');
        const file = join(HEAP_PROF_DIR, `gateway-idle-subscribers-${Date.now()}.heapprofile`);
        await writeFile(file, JSON.stringify(profile));
        progress(`Heap profile of what the idle subscribers hold: ${file}`);
      }
      const perSubscriberKb = (from: number, to: number) => round((to - from) / subscribers.length / 1024, 1);
      idle = {
        subscribers: subscribers.length,
        principalsPerTenant: idlePrincipals,
        openSeconds: round(openSeconds, 1),
        gateway: {
          rssBeforeMb: mb(before.gateway.rssBytes),
          rssAfterMb: mb(after.gateway.rssBytes),
          rssAfterWithoutGcMb: mb(unsettledRss.gateway),
          heapBeforeMb: mb(before.gateway.heapBytes),
          heapAfterMb: mb(after.gateway.heapBytes),
          rssKbPerSubscriber: perSubscriberKb(before.gateway.rssBytes, after.gateway.rssBytes),
          rssKbPerSubscriberWithoutGc: perSubscriberKb(before.gateway.rssBytes, unsettledRss.gateway),
          heapKbPerSubscriber: perSubscriberKb(before.gateway.heapBytes, after.gateway.heapBytes),
        },
        devices: {
          rssBeforeMb: mb(before.devices.rssBytes),
          rssAfterMb: mb(after.devices.rssBytes),
          heapBeforeMb: mb(before.devices.heapBytes),
          heapAfterMb: mb(after.devices.heapBytes),
          rssKbPerSubscriber: perSubscriberKb(before.devices.rssBytes, after.devices.rssBytes),
          heapKbPerSubscriber: perSubscriberKb(before.devices.heapBytes, after.devices.heapBytes),
        },
      };
      progress(`Idle: ${JSON.stringify(idle)}`);
    } finally {
      sessions.gateway.close();
      sessions.devices.close();
    }
    await threads.close();
    await sleep(2_000);
  }

  // Live subscribers: every delivery timed from its publication.
  const probe = new DevicesProbe(
    federation.url('devices'),
    Buffer.from(loadOrCreateSecrets(dataDir)['gateway-devices'], 'base64url'),
    pki.tls('gateway'),
    STATUS,
    tenants.map((tenant) => tenant.id),
  );
  cleanup.unshift(() => probe.stop());
  const subscribers = await subscribersOf(PER_TENANT, PRINCIPALS, STATUS);
  progress(`Opening ${subscribers.length} status subscribers (${PRINCIPALS} people per tenant)`);
  const openedAt = performance.now();
  const opened = await threads.open(subscribers);
  const openSeconds = (performance.now() - openedAt) / 1000;
  failIfTroubled(opened, 'Status subscribers refused', subscribers.length);
  progress(`Opened in ${openSeconds.toFixed(1)} s; waiting for every subscriber's first event`);
  await threads.reset();
  const firstSince = performance.now();
  for (;;) {
    const status = await threads.status();
    failIfTroubled(status, 'Status subscribers troubled', subscribers.length);
    if (status.withEvents === subscribers.length) break;
    if (performance.now() - firstSince > FIRST_EVENT_DEADLINE_MS)
      throw new Error(`Only ${status.withEvents} of ${subscribers.length} subscribers received an event`);
    await sleep(500);
  }
  const firstEventSeconds = (performance.now() - firstSince) / 1000;
  progress(`All receiving after ${firstEventSeconds.toFixed(1)} s; warm-up of ${WARMUP_SECONDS} s`);
  await sleep(WARMUP_SECONDS * 1_000);

  const windowSessions = {
    gateway: await openInspector(gatewayPid, 'gateway/', inspectorPorts.gateway),
    devices: await openInspector(devicesPid, 'subgraphs/devices/', inspectorPorts.devices),
  };
  cleanup.unshift(() => {
    windowSessions.gateway.close();
    windowSessions.devices.close();
  });
  const loops = {
    gateway: await watchLoop(windowSessions.gateway),
    devices: await watchLoop(windowSessions.devices),
  };
  await threads.record();
  probe.record(true);
  const start = {
    at: now(),
    gateway: processUsage(gatewayPid),
    devices: processUsage(devicesPid),
    sim: processUsage(sim.pid),
    bench: process.cpuUsage(),
    redis: await redisCpuSeconds(REDIS_URL),
    machine: machineCpu(),
    pressure: cpuPressureSeconds(),
  };
  const profiles = CPU_PROF_DIR
    ? {
        gateway: await startCpuProfile(gatewayPid, 'gateway/', inspectorPorts.gateway),
        devices: await startCpuProfile(devicesPid, 'subgraphs/devices/', inspectorPorts.devices),
      }
    : undefined;
  progress(`Measuring for ${SECONDS} s`);
  await sleep(SECONDS * 1_000);
  const end = {
    at: now(),
    gateway: processUsage(gatewayPid),
    devices: processUsage(devicesPid),
    sim: processUsage(sim.pid),
    bench: process.cpuUsage(start.bench),
    redis: await redisCpuSeconds(REDIS_URL),
    machine: machineCpu(),
    pressure: cpuPressureSeconds(),
    load: loadavg()[0]!,
    loops: { gateway: await loops.gateway.read(), devices: await loops.devices.read() },
  };
  if (profiles) {
    for (const [service, profile] of Object.entries(profiles)) {
      const file = join(CPU_PROF_DIR!, `${service}-subscriptions-${Date.now()}.cpuprofile`);
      await writeFile(file, JSON.stringify(await profile.stop()));
      progress(`CPU profile of the ${service} process over the window: ${file}`);
    }
  }
  await sleep(GRACE_MS);
  probe.record(false);
  const { status, receipts } = await threads.report();
  failIfTroubled(status, 'Status subscribers troubled', subscribers.length);
  const elapsed = (end.at - start.at) / 1000;

  // Every event published in the window, and each of its deliveries.
  const published = publications.between(start.at, end.at);
  const inWindow = new Set(published.map(([key]) => key));
  let deliveredInWindow = 0;
  let matched = 0;
  let unmatched = 0;
  const sincePoll: number[] = [];
  const sinceRedis: number[] = [];
  /** Per event: its first and last delivery (wall clock), and its publication. */
  const perEvent = new Map<string, { first: number; last: number; checkedAt: number }>();
  /** Latency by slice of the window, to see whether it holds steady. */
  const slices: number[][] = [];
  for (let i = 0; i < receipts.keys.length; i++) {
    const at = receipts.times[i]!;
    if (at >= start.at && at < end.at) deliveredInWindow++;
    const key = receipts.keys[i]!;
    const publication = publications.byKey.get(key);
    if (!publication) unmatched++;
    else if (inWindow.has(key)) {
      matched++;
      const clock = receipts.clockTimes[i]!;
      const checkedAt = Date.parse(key.slice(key.indexOf(' ') + 1));
      sincePoll.push(clock - checkedAt);
      sinceRedis.push(at - publication.at);
      const slice = Math.floor((publication.at - start.at) / (SLICE_S * 1000));
      (slices[slice] ??= []).push(clock - checkedAt);
      const event = perEvent.get(key);
      if (!event) perEvent.set(key, { first: clock, last: clock, checkedAt });
      else {
        event.first = Math.min(event.first, clock);
        event.last = Math.max(event.last, clock);
      }
    }
  }
  const expected = published.length * PER_TENANT;
  const cores = (from: { cpuSeconds: number }, to: { cpuSeconds: number }) =>
    round((to.cpuSeconds - from.cpuSeconds) / elapsed, 3);
  const gatewayCores = cores(start.gateway, end.gateway);
  const deliveriesPerSecond = deliveredInWindow / elapsed;
  console.log(
    JSON.stringify(
      {
        date: new Date().toISOString().slice(0, 10),
        database: POSTGRES ? 'PostgreSQL' : 'PGlite',
        cores: availableParallelism(),
        tenants: TENANTS,
        subscribers: subscribers.length,
        principalsPerTenant: PRINCIPALS,
        subgraphSubscriptions: TENANTS * PRINCIPALS,
        intervalMs: INTERVAL_MS,
        clientThreads: THREADS,
        semiSpaceMb: SEMI_SPACE_MB ?? null,
        idle,
        status: {
          openSeconds: round(openSeconds, 1),
          firstEventSeconds: round(firstEventSeconds, 1),
          windowSeconds: round(elapsed, 1),
          publishedPerSecond: round(published.length / elapsed, 1),
          expectedDeliveries: expected,
          delivered: matched,
          undelivered: expected - matched,
          unmatchedReceipts: unmatched,
          deliveriesPerSecond: round(deliveriesPerSecond, 0),
          latencyMs: distribution(sincePoll),
          latencyFromRedisReceiptMs: distribution(sinceRedis),
          firstDeliveryOfEachEventMs: distribution([...perEvent.values()].map((e) => e.first - e.checkedAt)),
          spreadOfEachEventMs: distribution([...perEvent.values()].map((e) => e.last - e.first)),
          p99BySliceMs: slices.map((values) => distribution(values).p99),
          devicesDirectSubscriberMs: {
            ...distribution(
              [...probe.receipts]
                .filter(([key]) => inWindow.has(key))
                .map(([key, at]) => at - Date.parse(key.slice(key.indexOf(' ') + 1))),
            ),
            errors: probe.errors,
          },
          gatewayCores,
          gatewayCpuMsPerDelivery:
            deliveriesPerSecond > 0 ? round((gatewayCores * 1000) / deliveriesPerSecond, 3) : null,
          gatewayRssMb: { windowStart: mb(start.gateway.rssBytes), windowEnd: mb(end.gateway.rssBytes) },
          gatewayLoop: end.loops.gateway,
          devicesCores: cores(start.devices, end.devices),
          devicesLoop: end.loops.devices,
          devicesRssAtWindowStartMb: mb(start.devices.rssBytes),
          devicesRssMb: mb(end.devices.rssBytes),
          simulatorCores: cores(start.sim, end.sim),
          redisCores: round((end.redis - start.redis) / elapsed, 3),
          benchCores: round((end.bench.user + end.bench.system) / 1e6 / elapsed, 3),
          clientEventLoopUtilization: receipts.eventLoopUtilization.map((value) => round(value, 3)),
          machineBusyCores: round((end.machine.busySeconds - start.machine.busySeconds) / elapsed, 2),
          // Share of the window in which some task waited for a CPU: the two cores were contended.
          cpuPressurePercent:
            start.pressure === undefined || end.pressure === undefined
              ? null
              : round(((end.pressure - start.pressure) / elapsed) * 100, 1),
          loadAverage: round(end.load, 1),
        },
      },
      null,
      2,
    ),
  );
  await threads.close();
  finished = true;
} finally {
  for (const step of cleanup) {
    try {
      await step();
    } catch (error) {
      progress(`cleanup: ${(error as Error).message}`);
    }
  }
}
