import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RouterClient } from '@fleet/router-api';
import { forEachBounded, startFederation, trustGatewayCertificate } from '@fleet/launcher';
import { createBenchDatabases } from './bench-databases.js';
import { choosePlan, createTenant, graphql, signInAdmin } from './bench-federation.js';
import { processUsage } from './process-usage.js';
import { startSimulatorProcess } from './simulator-process.js';
import { commandLineOptions } from './command-line.js';

/**
 * Provisioning a fleet: N simulated routers (1,000 by default, in a simulator process of their
 * own) enrolled into one tenant, then a 50-entry template applied to every one through the
 * gateway, with the devices process running at most `--concurrency` jobs at once (100 by
 * default, for the process and for the tenant). Measures the time from the first apply to the
 * last job finished, the jobs' outcomes, the devices process's peak memory and CPU; then checks a
 * sample of routers over the RouterOS API and with an empty plan, and that a second wave changes
 * nothing. Loopback only; bounded in time; stops by itself and removes what it made.
 *
 *   npm run bench:provisioning -- [--routers 1000] [--concurrency 100] [--max-seconds 1200]
 *     [--postgres postgres://postgres@127.0.0.1:5432/postgres] [--devices-heap-mb 160]
 *
 * With `--postgres`, each service gets a new database of its own on that (loopback) server instead
 * of its embedded one, dropped at the end. `--devices-heap-mb` gives the devices process a heap
 * limit (`DEVICES_NODE_OPTIONS=--max-old-space-size=…`), as a deployment sized to its fleet would.
 */
const args = commandLineOptions();
const ROUTERS = Number(args.get('routers') ?? 1_000);
const CONCURRENCY = Number(args.get('concurrency') ?? 100);
const MAX_SECONDS = Number(args.get('max-seconds') ?? 1_200);
const POSTGRES = args.get('postgres');
const DEVICES_HEAP_MB = args.get('devices-heap-mb');
/** Calls in flight from this process: enrollments (each connects to its router), then applies. */
const CLIENT_CALLS = 20;
/** Jobs read per status request, as aliases of one operation. */
const JOBS_PER_READ = 100;
/** Routers checked afterwards, over the RouterOS API and with a plan. */
const SAMPLE = Math.min(20, ROUTERS);
const deadline = Date.now() + MAX_SECONDS * 1_000;

/** 50 entries: identity, DNS, NTP, three services, four addresses and forty input rules. */
const RULES = Array.from({ length: 40 }, (_, i) => ({
  chain: 'input',
  action: i % 10 === 9 ? 'drop' : 'accept',
  protocol: 'tcp',
  srcAddress: `10.${i}.0.0/16`,
  dstPort: String(20_000 + i),
  comment: `bench-${i}`,
}));
const TEMPLATE = {
  name: 'bench-baseline',
  variables: [{ name: 'hostname', type: 'hostname' }],
  spec: {
    identity: { name: '${hostname}' },
    dns: { servers: ['9.9.9.9', '1.1.1.1'], allowRemoteRequests: false },
    ntp: { enabled: true, servers: ['time.cloudflare.com'] },
    services: [
      { name: 'telnet', disabled: true },
      { name: 'ftp', disabled: true },
      { name: 'www', disabled: true },
    ],
    addresses: [2, 3, 4, 5].map((n) => ({ address: `10.${100 + n}.0.1/24`, interface: `ether${n}` })),
    firewallFilter: RULES,
  },
};
const entries = 3 + TEMPLATE.spec.services.length + TEMPLATE.spec.addresses.length + RULES.length;

interface JobState {
  status: string;
  finishedAt: string | null;
  error: string | null;
  summary: Record<string, Record<string, number>> | null;
}
const FINISHED = new Set(['succeeded', 'failed', 'canceled']);

/** What was started, to stop and remove in this order whatever happens. */
const cleanup: (() => Promise<void>)[] = [];
try {
  const databases = POSTGRES ? await createBenchDatabases(POSTGRES) : undefined;
  if (databases) cleanup.unshift(() => databases.drop());
  const dataDir = await mkdtemp(join(tmpdir(), 'fleet-bench-'));
  cleanup.unshift(() => rm(dataDir, { recursive: true, force: true }));
  const sim = await startSimulatorProcess(ROUTERS);
  cleanup.unshift(() => sim.stop());
  const federation = await startFederation({
    dataDir,
    env: {},
    ports: { gateway: 0, aaa: 0, devices: 0, billing: 0, audit: 0 },
    overrides: {
      devices: {
        ...databases?.overrides.devices,
        DEVICES_LOG_LEVEL: 'warn',
        DEVICES_JOB_CONCURRENCY: String(CONCURRENCY),
        DEVICES_JOB_PER_TENANT: String(CONCURRENCY),
        ...(DEVICES_HEAP_MB
          ? { DEVICES_NODE_OPTIONS: `--max-old-space-size=${Number(DEVICES_HEAP_MB)}` }
          : {}),
      },
      // One client at one address sends everything here, and reads many jobs per request: the
      // budgets and operation limits are lifted, as the test federation lifts them.
      gateway: {
        GATEWAY_LOG_LEVEL: 'warn',
        GATEWAY_RATE_LIMIT_SIGN_IN_REQUESTS: '100000',
        GATEWAY_RATE_LIMIT_ADDRESS_REQUESTS: '100000000',
        GATEWAY_RATE_LIMIT_TIERS: 'standard=100000000/100000000/100000000',
        GATEWAY_MAX_ALIASES: String(JOBS_PER_READ),
        GATEWAY_MAX_ROOT_FIELDS: String(JOBS_PER_READ),
        GATEWAY_MAX_TOKENS: '100000',
        GATEWAY_MAX_COST: '100000',
      },
      aaa: { ...databases?.overrides.aaa, AAA_LOG_LEVEL: 'warn' },
      audit: { ...databases?.overrides.audit, AUDIT_LOG_LEVEL: 'warn' },
      billing: { ...databases?.overrides.billing, BILLING_LOG_LEVEL: 'warn' },
    },
    output: 'capture',
  });
  cleanup.unshift(() => federation.stop());
  // The gateway serves HTTPS with a certificate of the federation's own authority.
  trustGatewayCertificate(federation.caFile);

  const inTime = (what: string): void => {
    if (Date.now() > deadline) throw new Error(`${what} did not finish within --max-seconds ${MAX_SECONDS}`);
  };

  const mb = (bytes: number) => Number((bytes / 2 ** 20).toFixed(1));
  const devicesAtStart = processUsage(federation.pid('devices')!);

  const url = federation.gatewayUrl;
  const token = await signInAdmin(federation);
  const call = <T>(query: string, variables: Record<string, unknown> = {}) =>
    graphql<T>(url, query, variables, token);
  const tenantId = await createTenant(url, token, 'bench');
  await choosePlan(url, token, tenantId, 'enterprise');

  // Enrollment: not what is measured, but done as a client would, a few at a time.
  const enrollStarted = performance.now();
  const deviceIds: string[] = [];
  await forEachBounded(sim.inventory, CLIENT_CALLS, async (entry, index) => {
    inTime('Enrollment');
    const created = await call<{ createDevice: { id: string } }>(
      'mutation($i: CreateDeviceInput!) { createDevice(input: $i) { id } }',
      {
        i: {
          tenantId,
          name: entry.name,
          host: entry.host,
          port: entry.tlsPort,
          username: entry.username,
          password: entry.password,
          tls: { mode: 'PINNED', fingerprint: entry.fingerprint256 },
        },
      },
    );
    deviceIds[index] = created.createDevice.id;
  });
  const enrollSeconds = (performance.now() - enrollStarted) / 1_000;
  const devicesEnrolled = processUsage(federation.pid('devices')!);
  const { createTemplate } = await call<{ createTemplate: { id: string } }>(
    'mutation($i: CreateTemplateInput!) { createTemplate(input: $i) { id } }',
    { i: { tenantId, ...TEMPLATE } },
  );
  const hostname = (index: number) => `bench-${String(index).padStart(4, '0')}`;

  /** Applies the template to every device, waits for every job; returns the wave's figures. */
  const wave = async (name: string) => {
    const devicesPid = federation.pid('devices')!;
    const before = processUsage(devicesPid);
    const cpuOf = () => ({
      simulator: processUsage(sim.pid).cpuSeconds,
      gateway: processUsage(federation.pid('gateway')!).cpuSeconds,
      audit: processUsage(federation.pid('audit')!).cpuSeconds,
      bench: process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6,
    });
    const othersBefore = cpuOf();
    const started = Date.now();
    const jobIds: string[] = [];
    await forEachBounded(deviceIds, CLIENT_CALLS, async (deviceId, index) => {
      inTime(`The ${name} wave`);
      const queued = await call<{ applyProvisioning: { id: string } }>(
        'mutation($d: ID!, $t: ID!, $v: JSON) { applyProvisioning(deviceId: $d, templateId: $t, variables: $v) { id } }',
        { d: deviceId, t: createTemplate.id, v: { hostname: hostname(index) } },
      );
      jobIds[index] = queued.applyProvisioning.id;
    });
    const queuedSeconds = (Date.now() - started) / 1_000;
    const jobs = new Map<string, JobState>();
    for (;;) {
      const open = jobIds.filter((id) => !FINISHED.has(jobs.get(id)?.status ?? ''));
      if (open.length === 0) break;
      inTime(`The ${name} wave`);
      for (let at = 0; at < open.length; at += JOBS_PER_READ) {
        const batch = open.slice(at, at + JOBS_PER_READ);
        const read = await call<Record<string, JobState>>(
          `{ ${batch.map((id, i) => `j${i}: job(id: "${id}") { status finishedAt error summary }`).join(' ')} }`,
        );
        batch.forEach((id, i) => jobs.set(id, read[`j${i}`]!));
      }
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
    const after = processUsage(devicesPid);
    const othersAfter = cpuOf();
    const finished = [...jobs.values()];
    const last = Math.max(...finished.map((job) => Date.parse(job.finishedAt!)));
    const seconds = (last - started) / 1_000;
    const errors = new Map<string, number>();
    for (const job of finished.filter((j) => j.status !== 'succeeded'))
      errors.set(job.error ?? job.status, (errors.get(job.error ?? job.status) ?? 0) + 1);
    const changes = finished.reduce(
      (sum, job) =>
        sum +
        Object.values(job.summary ?? {}).reduce(
          (menuSum, actions) => menuSum + Object.values(actions).reduce((a, b) => a + b, 0),
          0,
        ),
      0,
    );
    return {
      seconds: Number(seconds.toFixed(1)),
      queued_seconds: Number(queuedSeconds.toFixed(1)),
      jobs_per_second: Number((ROUTERS / seconds).toFixed(1)),
      succeeded: finished.filter((job) => job.status === 'succeeded').length,
      failed: finished.length - finished.filter((job) => job.status === 'succeeded').length,
      errors: Object.fromEntries(errors),
      changes_made: changes,
      devices_cores: Number(((after.cpuSeconds - before.cpuSeconds) / seconds).toFixed(2)),
      other_cores: Object.fromEntries(
        Object.entries(othersAfter).map(([name, cpu]) => [
          name,
          Number(((cpu - othersBefore[name as keyof typeof othersBefore]) / seconds).toFixed(2)),
        ]),
      ),
      devices_rss_mb: mb(after.rssBytes),
      devices_peak_rss_mb: mb(after.peakRssBytes),
    };
  };

  const first = await wave('first');

  // A sample of routers, read directly: their names and rules as the template has them, and a
  // plan that finds nothing to do.
  const sample = Array.from({ length: SAMPLE }, (_, i) => Math.floor((i * ROUTERS) / SAMPLE));
  let inDesiredState = 0;
  for (const index of sample) {
    const entry = sim.inventory[index]!;
    const client = new RouterClient({
      name: entry.name,
      host: entry.host,
      port: entry.tlsPort,
      username: entry.username,
      password: entry.password,
      tls: { mode: 'pinned', fingerprint256: entry.fingerprint256 },
    });
    try {
      const [identity] = await client.print('/system/identity');
      const rules = (await client.print('/ip/firewall/filter')).map((row) => row.comment);
      const plan = await call<{ planProvisioning: { empty: boolean } }>(
        'query($d: ID!, $t: ID!, $v: JSON) { planProvisioning(deviceId: $d, templateId: $t, variables: $v) { empty } }',
        { d: deviceIds[index], t: createTemplate.id, v: { hostname: hostname(index) } },
      );
      if (
        identity?.name === hostname(index) &&
        JSON.stringify(rules) === JSON.stringify(RULES.map((rule) => rule.comment)) &&
        plan.planProvisioning.empty
      )
        inDesiredState++;
    } finally {
      await client.close();
    }
  }

  const second = await wave('second');
  const simUsage = processUsage(sim.pid);
  process.stdout.write(
    `${JSON.stringify(
      {
        routers: ROUTERS,
        engine: POSTGRES ? 'postgres' : 'pglite',
        devices_heap_mb: DEVICES_HEAP_MB ? Number(DEVICES_HEAP_MB) : null,
        template_entries: entries,
        concurrency: CONCURRENCY,
        devices_rss_mb_at_start: mb(devicesAtStart.rssBytes),
        enroll_seconds: Number(enrollSeconds.toFixed(1)),
        devices_rss_mb_enrolled: mb(devicesEnrolled.rssBytes),
        devices_peak_rss_mb_enrolled: mb(devicesEnrolled.peakRssBytes),
        first_wave: first,
        sample_in_desired_state: `${inDesiredState}/${SAMPLE}`,
        second_wave: second,
        simulator_rss_mb: mb(simUsage.rssBytes),
      },
      null,
      2,
    )}\n`,
  );
  const problems = [
    first.failed > 0 && `${first.failed} jobs of the first wave failed`,
    inDesiredState < SAMPLE && `${SAMPLE - inDesiredState} sampled routers are not as the template wants`,
    (second.failed > 0 || second.changes_made > 0) && 'the second wave failed or made changes',
  ].filter(Boolean);
  if (problems.length > 0) {
    process.stderr.write(`Provisioning check failed: ${problems.join('; ')}\n`);
    process.exitCode = 1;
  }
} finally {
  for (const step of cleanup) await step();
}
