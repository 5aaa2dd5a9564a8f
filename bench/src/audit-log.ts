import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  auditConfigSpec,
  auditMigrations,
  ChainWriter,
  CheckpointSigner,
  type AuditConfig,
  type AuditDatabase,
} from '@fleet/audit';
import { sql } from 'kysely';
import { createLogger, loadConfig, openDatabase, type Engine } from '@fleet/service-kit';
import { auditGraphql, ingest, ingestBody, type AuditTarget } from './audit-client.js';
import { AuditFleet, PRODUCERS, seededRandom, type Producer } from './audit-fleet.js';
import { AUDIT_ENTRY, startAuditProcess, type AuditProcess } from './audit-process.js';
import { BenchTls } from './bench-tls.js';
import {
  LIST,
  PLATFORM_READER,
  querySpecs,
  type DeepCursor,
  type EventPage,
  type Shape,
} from './audit-queries.js';
import { createBenchDatabases } from './bench-databases.js';
import { PostgresBackends } from './postgres-backends.js';
import { startCpuProfile } from './cpu-profile.js';
import { cpuPressureSeconds, machineCpu, processUsage } from './process-usage.js';
import { commandLineOptions } from './command-line.js';

/**
 * The audit subgraph: ingest throughput, verification of the whole log, and the latency of its
 * read side, on PostgreSQL and on the embedded PGlite.
 *
 * The log is a fleet's history (`audit-fleet.ts`): 100 tenants, 20,000 devices, 1,000 people
 * (aaa's users, and the actors of most changes), one subscription per tenant; devices' events
 * carry the device's whole snapshot, as the devices service records it. Per engine:
 *
 * 1. History. `--events` (1,000,000) less what the ingest runs below send, occurring over the
 *    last 12 months, is appended straight to the database through audit's own ChainWriter (what
 *    /ingest calls), 1,000 events a batch, in this process, with its clock at each batch's time
 *    so that recordedAt and checkpoints follow it: the fast path, to seed; timed, but not the
 *    ingest figure. Checkpoints every 1,000 events, the service's default.
 * 2. The service: audit's built main in a process of its own, as the launcher starts it, on that
 *    database, with the same checkpoint key.
 * 3. Ingest, through the real path: batches POSTed to /ingest signed with each producer's own key,
 *    as the outbox relays ship them, one batch in flight per producer; devices alone, then aaa,
 *    devices and billing at once, each in batches of 100 and of 1,000 (`--ingest-events` per run,
 *    after an untimed warm-up). The bodies are made before each run: the producers' own work is
 *    theirs, not audit's.
 * 4. Verification: `verifyAuditLog` over the whole log, asked of the service as a platform reader.
 * 5. Reads (PostgreSQL): several query shapes over /graphql, signed as the gateway signs them,
 *    for a platform reader and for tenants' auditors, one request at a time after a warm-up.
 *
 * On PGlite the log is `--pglite-events` (100,000), and `--pglite-ingest-events` per run; reads
 * are not measured there. `--cpu-prof DIR` writes CPU profiles of the audit process over each
 * run, the verification and the reads (the profiler's cost is then in the figures).
 *
 *   npm run bench:audit -- [--events 1000000] [--engine postgres|pglite|both] [--ingest-events 50000]
 *     [--pglite-events 100000] [--pglite-ingest-events 20000] [--requests 300] [--warmup 20]
 *     [--postgres postgres://postgres@127.0.0.1:5432/postgres] [--cpu-prof DIR] [--seed 1]
 *
 * Loopback only; bounded in time (`--max-minutes`, 40); everything it started is stopped and its
 * databases dropped.
 */
const args = commandLineOptions();
const whole = (name: string, fallback: number, min = 1): number => {
  const value = Number(args.get(name) ?? fallback);
  if (!Number.isInteger(value) || value < min) throw new Error(`--${name} must be a whole number ≥ ${min}`);
  return value;
};
const EVENTS = whole('events', 1_000_000, 20_000);
const INGEST_EVENTS = whole('ingest-events', 50_000, 1_000);
const PGLITE_EVENTS = whole('pglite-events', 100_000, 20_000);
const PGLITE_INGEST_EVENTS = whole('pglite-ingest-events', 20_000, 1_000);
const REQUESTS = whole('requests', 300);
const WARMUP = whole('warmup', 20, 0);
const SEED = whole('seed', 1, 0);
const MAX_MINUTES = whole('max-minutes', 40);
const ENGINE = args.get('engine') ?? 'both';
if (!['postgres', 'pglite', 'both'].includes(ENGINE))
  throw new Error('--engine must be postgres, pglite or both');
const ENGINES: Engine[] = ENGINE === 'both' ? ['postgres', 'pglite'] : [ENGINE as Engine];
const POSTGRES = args.get('postgres') ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const CPU_PROF_DIR = args.has('cpu-prof') ? resolve(args.get('cpu-prof')!) : undefined;

const SHAPE = { tenants: 100, devices: 20_000, people: 1_000 };
const HISTORY_DAYS = 365;
const DAY_MS = 86_400_000;
/** Events per append while seeding: what one ingest batch may hold at most. */
const SEED_BATCH = 1_000;
/** How long after an event audit records it, while seeding (the relay's delay). */
const RECORDED_LAG_MS = 2_000;
const INGEST_RUNS: { producers: readonly Producer[]; batch: number }[] = [
  { producers: ['devices'], batch: 100 },
  { producers: ['devices'], batch: 1_000 },
  { producers: PRODUCERS, batch: 100 },
  { producers: PRODUCERS, batch: 1_000 },
];
/** Untimed batches of 100 per producer before the first run: connections, the JIT, the plan cache. */
const WARMUP_BATCHES = 5;
/** Devices per tenant whose events give deep cursors (read before the reads are measured). */
const CURSOR_DEVICES_PER_TENANT = 3;
const VERIFY_TIMEOUT_MS = 30 * 60_000;
const VERIFY = `query { verifyAuditLog {
  ok fromPosition toPosition checked events pruned checkpoints firstBrokenPosition problem
} }`;

/** Progress on stderr; the results alone go to stdout. */
const progress = (message: string) => process.stderr.write(`${message}\n`);
const round = (value: number, digits = 2) => Number(value.toFixed(digits));
const percentile = (sorted: Float64Array, p: number) =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
const key = () => randomBytes(32);

/** A free port on loopback, for the audit process's inspector. */
const freePort = () =>
  new Promise<number>((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });

/**
 * What a span cost: the audit process's cores, this process's, the machine's busy cores, and on
 * PostgreSQL its backends' for audit's database (`backends`).
 */
async function usageMeter(pid: number, backends?: PostgresBackends) {
  const postgres = await backends?.meter();
  const start = {
    at: performance.now(),
    audit: processUsage(pid).cpuSeconds,
    bench: process.cpuUsage(),
    machine: machineCpu().busySeconds,
    pressure: cpuPressureSeconds(),
  };
  return async () => {
    const seconds = (performance.now() - start.at) / 1000;
    const bench = process.cpuUsage(start.bench);
    const pressure = cpuPressureSeconds();
    const audit = processUsage(pid).cpuSeconds;
    const machine = machineCpu().busySeconds;
    const postgresSeconds = postgres ? await postgres() : undefined;
    return {
      seconds,
      auditCores: round((audit - start.audit) / seconds),
      postgresCores: postgresSeconds === undefined ? null : round(postgresSeconds / seconds),
      benchCores: round((bench.user + bench.system) / 1e6 / seconds),
      machineCores: round((machine - start.machine) / seconds),
      contended:
        pressure === undefined || start.pressure === undefined
          ? null
          : round((pressure - start.pressure) / seconds),
    };
  };
}

/** The audit service under test, and what measures it. */
interface Service {
  engine: Engine;
  audit: AuditProcess;
  /** The certificates its callers present. */
  pki: BenchTls;
  /** PostgreSQL's backends for audit's database (PostgreSQL only). */
  backends?: PostgresBackends;
  /** The audit process's inspector, with `--cpu-prof`. */
  inspectorPort?: number;
}

/** What a span cost, on the service's processes: see usageMeter. */
const meterOf = (service: Service) => usageMeter(service.audit.pid, service.backends);

/** A CPU profile of the audit process over a span, written to `--cpu-prof DIR` under `name`. */
async function profiled<T>(service: Service, name: string, span: () => Promise<T>) {
  const port = service.inspectorPort;
  if (!CPU_PROF_DIR || port === undefined) return span();
  const profile = await startCpuProfile(service.audit.pid, AUDIT_ENTRY, port);
  try {
    return await span();
  } finally {
    const file = join(CPU_PROF_DIR, `audit-${service.engine}-${name}-${Date.now()}.cpuprofile`);
    await writeFile(file, JSON.stringify(await profile.stop()));
    progress(`CPU profile: ${file}`);
  }
}

interface IngestResult {
  engine: Engine;
  producers: string;
  batch: number;
  events: number;
  seconds: number;
  eventsPerSecond: number;
  batchP50Ms: number;
  batchP99Ms: number;
  bodyKb: number;
  auditCores: number;
  postgresCores: number | null;
  benchCores: number;
  machineCores: number;
  contended: number | null;
}

interface VerifyResult {
  engine: Engine;
  events: number;
  checkpoints: number;
  seconds: number;
  eventsPerSecond: number;
  auditCores: number;
  postgresCores: number | null;
  machineCores: number;
}

interface QueryResult {
  reader: string;
  shape: string;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  rowsPerAnswer: number;
  emptyAnswers: number;
}

interface EngineResult {
  engine: Engine;
  events: number;
  seed: { events: number; seconds: number; eventsPerSecond: number };
  ingest: IngestResult[];
  verify: VerifyResult;
  queries?: {
    shapes: QueryResult[];
    overall: { p50Ms: number; p99Ms: number; maxMs: number };
    auditCores: number;
    postgresCores: number | null;
  };
}

/**
 * Appends `count` events of the fleet's history, occurring evenly over [from, to), straight
 * through the ChainWriter (as /ingest does, without HTTP), its clock at each batch's time.
 */
async function seedHistory(
  config: AuditConfig,
  checkpointKey: KeyObject,
  fleet: AuditFleet,
  count: number,
  from: number,
  to: number,
) {
  const database = await openDatabase<AuditDatabase>({
    url: config.DATABASE_URL,
    dataDir: config.DATA_DIR,
    migrations: auditMigrations,
    logger: createLogger({ service: 'bench', level: 'warn' }),
    maxConnections: 2,
  });
  let clock = from;
  const writer = new ChainWriter(database.db, new CheckpointSigner(checkpointKey), {
    checkpointEveryEvents: config.CHECKPOINT_EVERY_EVENTS,
    now: () => new Date(clock),
  });
  const step = (to - from) / count;
  const started = performance.now();
  try {
    for (let i = 0; i < count; i += SEED_BATCH) {
      const size = Math.min(SEED_BATCH, count - i);
      const batch = Array.from({ length: size }, (_, j) =>
        fleet.nextEvent(Math.floor(from + (i + j) * step)),
      );
      clock = Date.parse(batch.at(-1)!.occurredAt) + RECORDED_LAG_MS;
      const { appended } = await writer.append(batch);
      if (appended !== size) throw new Error(`The chain writer appended ${appended} of ${size} events`);
      if ((i + size) % 100_000 === 0) progress(`  history: ${i + size} of ${count} events`);
    }
    // The planner's statistics, as autovacuum would have gathered them over the year.
    await sql`analyze`.execute(database.db);
  } finally {
    await database.close();
  }
  const seconds = (performance.now() - started) / 1000;
  return { events: count, seconds: round(seconds, 1), eventsPerSecond: Math.round(count / seconds) };
}

/**
 * One ingest run: each producer ships its share of `events` in batches of `batch`, one batch in
 * flight per producer, all producers at once.
 */
async function ingestRun(
  service: Service,
  keys: Record<Producer, Buffer>,
  fleet: AuditFleet,
  run: { producers: readonly Producer[]; batch: number },
  events: number,
  maxBodyBytes: number,
): Promise<IngestResult> {
  const bodies = run.producers.map((producer, p) => {
    const share = Math.floor(events / run.producers.length) + (p < events % run.producers.length ? 1 : 0);
    const batches: { body: string; events: number }[] = [];
    for (let sent = 0; sent < share; sent += run.batch) {
      const size = Math.min(run.batch, share - sent);
      const batch = Array.from({ length: size }, () => fleet.nextEventOf(producer, Date.now()));
      const body = ingestBody(batch);
      if (Buffer.byteLength(body) > maxBodyBytes)
        throw new Error(`A batch of ${size} is ${Buffer.byteLength(body)} bytes: over AUDIT_MAX_BODY_BYTES`);
      batches.push({ body, events: size });
    }
    return { producer, batches };
  });
  const bytes = bodies.flatMap((b) => b.batches).reduce((sum, b) => sum + Buffer.byteLength(b.body), 0);
  const count = bodies.flatMap((b) => b.batches).length;
  const latencies: number[] = [];
  const meter = await meterOf(service);
  await Promise.all(
    bodies.map(async ({ producer, batches }) => {
      const target: AuditTarget = { url: service.audit.url, key: keys[producer], pki: service.pki };
      for (const { body, events: size } of batches) {
        const sent = performance.now();
        await ingest(target, producer, body, size);
        latencies.push(performance.now() - sent);
      }
    }),
  );
  const usage = await meter();
  const sorted = Float64Array.from(latencies).sort();
  return {
    engine: service.engine,
    producers: run.producers.join(', '),
    batch: run.batch,
    events,
    seconds: round(usage.seconds),
    eventsPerSecond: Math.round(events / usage.seconds),
    batchP50Ms: round(percentile(sorted, 0.5), 1),
    batchP99Ms: round(percentile(sorted, 0.99), 1),
    bodyKb: round(bytes / count / 1024, 1),
    auditCores: usage.auditCores,
    postgresCores: usage.postgresCores,
    benchCores: usage.benchCores,
    machineCores: usage.machineCores,
    contended: usage.contended,
  };
}

/** Deep cursors of each tenant: edges of its devices' events, from the middle 80 % of the log. */
async function deepCursors(target: AuditTarget, fleet: AuditFleet, events: number) {
  const cursors = new Map<string, DeepCursor[]>();
  for (const tenantId of fleet.tenants) {
    const devices = fleet.devices.filter((device) => device.tenantId === tenantId && device.sequence > 1);
    for (const device of devices.slice(0, CURSOR_DEVICES_PER_TENANT)) {
      const page = await auditGraphql<{ auditEvents: EventPage }>(target, PLATFORM_READER, LIST, {
        filter: { entityType: 'device', entityId: device.id },
      });
      const list = cursors.get(tenantId) ?? [];
      for (const { cursor, node } of page.auditEvents.edges) {
        const position = Number(node.position);
        if (node.sequence > 1 && position > events * 0.1 && position < events * 0.9)
          list.push({ cursor, position, tenantId });
      }
      if (list.length > 0) cursors.set(tenantId, list);
    }
  }
  return cursors;
}

/** Every shape in turn, `rounds` times: one request at a time, timed from send to parsed answer. */
async function measureShapes(target: AuditTarget, shapes: readonly Shape[], rounds: number) {
  const samples = shapes.map(() => ({ latencies: [] as number[], rows: 0, empty: 0 }));
  for (let r = 0; r < rounds; r++) {
    for (const [i, shape] of shapes.entries()) {
      const request = shape.next();
      const sent = performance.now();
      const data = await auditGraphql(target, request.principal, request.query, request.variables);
      const elapsed = performance.now() - sent;
      const { problem, rows } = request.check(data);
      if (problem) throw new Error(`${shape.reader}, ${shape.name}: ${problem}`);
      samples[i]!.latencies.push(elapsed);
      samples[i]!.rows += rows;
      if (rows === 0) samples[i]!.empty++;
    }
  }
  return samples;
}

/** The reads: every shape after a warm-up, one request at a time; per shape and over all. */
async function readLatency(
  service: Service,
  target: AuditTarget,
  fleet: AuditFleet,
  events: number,
  from: number,
  to: number,
) {
  const cursors = await deepCursors(target, fleet, events);
  const shapes = querySpecs({ fleet, cursors, from, to, random: seededRandom(SEED + 1) });
  await measureShapes(target, shapes, WARMUP);
  const meter = await meterOf(service);
  const samples = await measureShapes(target, shapes, REQUESTS);
  const usage = await meter();
  const all = Float64Array.from(samples.flatMap((s) => s.latencies)).sort();
  return {
    shapes: shapes.map((shape, i): QueryResult => {
      const sorted = Float64Array.from(samples[i]!.latencies).sort();
      return {
        reader: shape.reader,
        shape: shape.name,
        p50Ms: round(percentile(sorted, 0.5), 1),
        p99Ms: round(percentile(sorted, 0.99), 1),
        maxMs: round(sorted[sorted.length - 1]!, 1),
        rowsPerAnswer: round(samples[i]!.rows / REQUESTS, 1),
        emptyAnswers: samples[i]!.empty,
      };
    }),
    overall: {
      p50Ms: round(percentile(all, 0.5), 1),
      p99Ms: round(percentile(all, 0.99), 1),
      maxMs: round(all[all.length - 1]!, 1),
    },
    auditCores: usage.auditCores,
    postgresCores: usage.postgresCores,
  };
}

/** verifyAuditLog over the whole log, asked of the service as a platform reader would. */
async function verifyWholeLog(service: Service, target: AuditTarget, events: number): Promise<VerifyResult> {
  const meter = await meterOf(service);
  const answer = await profiled(service, 'verify', () =>
    auditGraphql<{ verifyAuditLog: { ok: boolean; checked: number; checkpoints: number } }>(
      target,
      PLATFORM_READER,
      VERIFY,
      {},
      VERIFY_TIMEOUT_MS,
    ),
  );
  const usage = await meter();
  const verified = answer.verifyAuditLog;
  if (!verified.ok || verified.checked !== events)
    throw new Error(`Verification failed: ${JSON.stringify(verified)}`);
  return {
    engine: service.engine,
    events: verified.checked,
    checkpoints: verified.checkpoints,
    seconds: round(usage.seconds, 1),
    eventsPerSecond: Math.round(verified.checked / usage.seconds),
    auditCores: usage.auditCores,
    postgresCores: usage.postgresCores,
    machineCores: usage.machineCores,
  };
}

/** Everything started, stopped and removed in reverse order whatever happens. */
const cleanup: (() => Promise<void> | void)[] = [];
const runCleanup = async () => {
  for (const step of cleanup.splice(0)) {
    try {
      await step();
    } catch (error) {
      progress(`cleanup: ${(error as Error).message}`);
    }
  }
};

async function benchEngine(engine: Engine): Promise<EngineResult> {
  const total = engine === 'postgres' ? EVENTS : PGLITE_EVENTS;
  const perRun = engine === 'postgres' ? INGEST_EVENTS : PGLITE_INGEST_EVENTS;
  const warmupEvents = PRODUCERS.length * WARMUP_BATCHES * 100;
  const history = total - warmupEvents - INGEST_RUNS.length * perRun;
  if (history < SEED_BATCH)
    throw new Error(`${total} events leave no history beside the ingest runs: lower the ingest events`);
  const dataDir = await mkdtemp(join(tmpdir(), 'fleet-bench-audit-'));
  cleanup.unshift(() => rm(dataDir, { recursive: true, force: true }));
  const databases = engine === 'postgres' ? await createBenchDatabases(POSTGRES, ['audit']) : undefined;
  if (databases) cleanup.unshift(() => databases.drop());
  // Its callers reach it over mutual TLS, with certificates of an authority of the run's own.
  const pki = await BenchTls.create(join(dataDir, 'pki'));
  cleanup.unshift(() => pki.close());
  const keys = { gateway: key(), aaa: key(), devices: key(), billing: key() };
  const checkpointKey = generateKeyPairSync('ed25519').privateKey;
  const variables: Record<string, string> = {
    AUDIT_PORT: '0',
    AUDIT_DATA_DIR: join(dataDir, 'audit'),
    AUDIT_LOG_LEVEL: 'warn',
    AUDIT_KEY_GATEWAY: keys.gateway.toString('base64url'),
    AUDIT_KEY_AAA: keys.aaa.toString('base64url'),
    AUDIT_KEY_DEVICES: keys.devices.toString('base64url'),
    AUDIT_KEY_BILLING: keys.billing.toString('base64url'),
    AUDIT_CHECKPOINT_KEY: checkpointKey.export({ format: 'der', type: 'pkcs8' }).toString('base64url'),
    ...pki.env('audit'),
    ...databases?.overrides.audit,
  };
  const config = loadConfig(auditConfigSpec, 'AUDIT_', variables);
  const fleet = new AuditFleet(SHAPE, seededRandom(SEED));
  const to = Date.now() - 3_600_000;
  const from = to - HISTORY_DAYS * DAY_MS;

  progress(`${engine}: history of ${history} events over ${HISTORY_DAYS} days, through the chain writer`);
  const seed = await seedHistory(config, checkpointKey, fleet, history, from, to);
  progress(`  ${seed.eventsPerSecond} events/s`);

  const inspectorPort = CPU_PROF_DIR ? await freePort() : undefined;
  const audit = await startAuditProcess(
    variables,
    inspectorPort ? `--inspect-port=127.0.0.1:${inspectorPort}` : undefined,
  );
  cleanup.unshift(() => audit.stop());
  const backends = config.DATABASE_URL
    ? await PostgresBackends.open(POSTGRES, new URL(config.DATABASE_URL).pathname.slice(1))
    : undefined;
  if (backends) cleanup.unshift(() => backends.close());
  const service: Service = {
    engine,
    audit,
    pki,
    ...(backends ? { backends } : {}),
    ...(inspectorPort ? { inspectorPort } : {}),
  };
  progress(`${engine}: audit started (pid ${audit.pid}, port ${audit.port})`);
  try {
    const producerKeys = { aaa: keys.aaa, devices: keys.devices, billing: keys.billing };
    const warmup = { producers: PRODUCERS, batch: 100 };
    for (let i = 0; i < WARMUP_BATCHES; i++)
      await ingestRun(
        service,
        producerKeys,
        fleet,
        warmup,
        warmup.producers.length * 100,
        config.MAX_BODY_BYTES,
      );
    const ingested: IngestResult[] = [];
    for (const run of INGEST_RUNS) {
      const result = await profiled(service, `ingest-${run.producers.length}x${run.batch}`, () =>
        ingestRun(service, producerKeys, fleet, run, perRun, config.MAX_BODY_BYTES),
      );
      progress(`  ingest ${result.producers}, batches of ${run.batch}: ${result.eventsPerSecond} events/s`);
      ingested.push(result);
    }

    const gateway: AuditTarget = { url: audit.url, key: keys.gateway, pki };
    progress(`${engine}: verifying ${total} events`);
    const verify = await verifyWholeLog(service, gateway, total);
    progress(`  ${verify.seconds} s, ${verify.eventsPerSecond} events/s`);

    let queries: EngineResult['queries'];
    if (engine === 'postgres') {
      progress(`${engine}: reads, ${REQUESTS} of each shape after ${WARMUP} of warm-up`);
      queries = await profiled(service, 'reads', () => readLatency(service, gateway, fleet, total, from, to));
      progress(`  overall p50 ${queries.overall.p50Ms} ms, p99 ${queries.overall.p99Ms} ms`);
    }
    return { engine, events: total, seed, ingest: ingested, verify, ...(queries ? { queries } : {}) };
  } catch (error) {
    for (const line of audit.logs().slice(-20)) progress(`audit: ${line}`);
    throw error;
  }
}

/** Markdown tables of the results, as bench/README.md shows them. */
function tables(results: readonly EngineResult[]): string {
  const engineName = (engine: Engine) => (engine === 'postgres' ? 'PostgreSQL' : 'PGlite');
  const n = (value: number) => value.toLocaleString('en-US');
  const cores = (value: number | null) => (value === null ? '—' : String(value));
  const lines = [
    '| engine | producers | batch | events | events/s | batch p50 / p99 | body | audit cores | PostgreSQL cores | bench cores | machine cores | contended |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const result of results) {
    lines.push(
      `| ${engineName(result.engine)} | history: ChainWriter.append in this process | 1,000 | ${n(result.seed.events)} | ${n(result.seed.eventsPerSecond)} | | | | | | | |`,
    );
    for (const r of result.ingest)
      lines.push(
        `| ${engineName(r.engine)} | ${r.producers} | ${n(r.batch)} | ${n(r.events)} | **${n(r.eventsPerSecond)}** | ${r.batchP50Ms} / ${r.batchP99Ms} ms | ${r.bodyKb} KB | ${r.auditCores} | ${cores(r.postgresCores)} | ${r.benchCores} | ${r.machineCores} | ${r.contended === null ? '—' : `${Math.round(r.contended * 100)} %`} |`,
      );
  }
  lines.push(
    '',
    '| engine | events verified | checkpoints | time | events/s | audit cores | PostgreSQL cores | machine cores |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  );
  for (const { verify: v } of results)
    lines.push(
      `| ${engineName(v.engine)} | ${n(v.events)} | ${n(v.checkpoints)} | **${v.seconds} s** | ${n(v.eventsPerSecond)} | ${v.auditCores} | ${cores(v.postgresCores)} | ${v.machineCores} |`,
    );
  for (const result of results) {
    if (!result.queries) continue;
    const q = result.queries;
    lines.push(
      '',
      `Reads over ${n(result.events)} events (${engineName(result.engine)}), ${REQUESTS} requests per shape, one at a time; audit ${q.auditCores} cores, PostgreSQL ${cores(q.postgresCores)}:`,
      '',
      '| reader | shape | p50 | p99 | max | events per answer | empty answers |',
      '| --- | --- | --- | --- | --- | --- | --- |',
    );
    for (const s of q.shapes)
      lines.push(
        `| ${s.reader} | ${s.shape} | ${s.p50Ms} ms | **${s.p99Ms} ms** | ${s.maxMs} ms | ${s.rowsPerAnswer} | ${s.emptyAnswers} |`,
      );
    lines.push(
      `| all | all | ${q.overall.p50Ms} ms | **${q.overall.p99Ms} ms** | ${q.overall.maxMs} ms | | |`,
    );
  }
  return lines.join('\n');
}

const watchdog = setTimeout(() => {
  progress(`The benchmark took more than ${MAX_MINUTES} minutes; stopping`);
  void runCleanup().finally(() => process.exit(1));
}, MAX_MINUTES * 60_000);
try {
  if (CPU_PROF_DIR) await mkdir(CPU_PROF_DIR, { recursive: true });
  const load = { start: loadavg()[0]!, end: 0 };
  const started = performance.now();
  const results: EngineResult[] = [];
  for (const engine of ENGINES) {
    results.push(await benchEngine(engine));
    await runCleanup();
  }
  load.end = loadavg()[0]!;
  console.log(tables(results));
  console.log(
    JSON.stringify({
      date: new Date().toISOString().slice(0, 10),
      cores: availableParallelism(),
      node: process.version,
      loadAverage: load,
      minutes: round((performance.now() - started) / 60_000, 1),
      results,
    }),
  );
} finally {
  await runCleanup();
  clearTimeout(watchdog);
}
