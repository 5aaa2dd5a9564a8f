import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalKeyProvider } from '@fleet/envelope';
import { startSimulator, type Simulator } from '@fleet/routeros-sim';
import { createLogger, openDatabase, type Database, type Engine, type Principal } from '@fleet/service-kit';
import { createServiceDatabases, postgresSuiteEnabled } from '../../../../test/support/postgres.js';
import { CredentialVault } from '../credentials/credential-vault.js';
import { migrations } from '../database/migrations.js';
import type { DevicesDatabase } from '../database/schema.js';
import { JobStore } from '../provisioning/job-store.js';
import { DeviceRegistry } from '../registry/device-registry.js';
import { TenantEntitlements } from '../entitlements/tenant-entitlements.js';
import { RouterNetworks } from '../routers/router-networks.js';
import { TemplateStore } from '../templates/template-store.js';
import { RolloutStore } from './rollout-store.js';

const logger = createLogger({ service: 'test', level: 'silent' });
/** Connections the PostgreSQL pool may open: enough for the rollout's advances to really race. */
const POOL_SIZE = 12;
const ADVANCES = 24;

const engines: { engine: Engine; enabled: boolean }[] = [
  { engine: 'pglite', enabled: true },
  { engine: 'postgres', enabled: await postgresSuiteEnabled() },
];

const admin: Principal = {
  kind: 'user',
  userId: randomUUID(),
  tenantId: randomUUID(),
  roles: [],
  scopes: ['platform:admin'],
  sessionId: randomUUID(),
};

/**
 * A rollout advanced by many callers at once, as by several devices processes, on both engines:
 * each stage is queued once, with one event, and nothing fails.
 */
describe.each(engines)('rollout advances on $engine', ({ engine, enabled }) => {
  let dir: string;
  let database: Database<DevicesDatabase>;
  let cleanup: () => Promise<void>;
  let routers: Simulator;
  let registry: DeviceRegistry;
  let templates: TemplateStore;
  let jobs: JobStore;
  const tenantId = randomUUID();

  beforeAll(async () => {
    if (!enabled) return;
    dir = await mkdtemp(join(tmpdir(), 'rollout-store-'));
    if (engine === 'postgres') {
      const { databases, drop } = await createServiceDatabases(['devices']);
      database = await openDatabase<DevicesDatabase>({
        url: databases.devices.url,
        dataDir: dir,
        migrations,
        logger,
        maxConnections: POOL_SIZE,
      });
      cleanup = async () => {
        await drop();
        await rm(dir, { recursive: true, force: true });
      };
    } else {
      database = await openDatabase<DevicesDatabase>({ url: undefined, dataDir: dir, migrations, logger });
      cleanup = () => rm(dir, { recursive: true, force: true });
    }
    routers = await startSimulator({ routers: 3 });
    registry = new DeviceRegistry(database.db, {
      vault: new CredentialVault(
        database.db,
        await createLocalKeyProvider({ keyFile: join(dir, 'master.key') }),
        { ttlMs: 60_000, maxEntries: 100 },
      ),
      networks: new RouterNetworks('127.0.0.0/8'),
      timeouts: { connectTimeoutMs: 5_000, callTimeoutMs: 5_000 },
      quotas: new TenantEntitlements(database.db, { defaultQuota: 100 }),
      onEvent: () => undefined,
    });
    templates = new TemplateStore(database.db, () => undefined);
    jobs = new JobStore(database.db, { devices: registry, templates, onEvent: () => undefined });
    for (const [index, entry] of routers.inventory().entries()) {
      await registry.create(
        {
          tenantId,
          name: `unit-${index}`,
          host: entry.host,
          port: entry.tlsPort,
          username: entry.username,
          password: entry.password,
          tags: ['race'],
          tls: { mode: 'PINNED', fingerprint: entry.fingerprint256 },
        },
        admin,
      );
    }
  });

  afterAll(async () => {
    await routers?.close();
    await database?.close();
    await cleanup?.();
  });

  it.runIf(enabled)('queues each stage once, however many advance it at the same moment', async () => {
    const template = await templates.create(
      {
        tenantId,
        name: 'race',
        spec: { identity: { name: 'unit-${unit}' } },
        variables: [{ name: 'unit', type: 'integer', default: '0' }],
      },
      admin,
    );
    // Several stores on one database, as several processes would be.
    const stores = Array.from(
      { length: 4 },
      () => new RolloutStore(database.db, { devices: registry, templates, jobs, onEvent: () => undefined }),
    );
    const rollout = await stores[0]!.create(
      { tenantId, templateId: template.id, tag: 'race', policy: { canarySize: 1, batchSize: 1 } },
      admin,
    );
    const rolloutJobs = () =>
      database.db
        .selectFrom('provisioning_job')
        .select(['id', 'rollout_stage', 'status'])
        .where('rollout_id', '=', rollout.id)
        .orderBy('rollout_stage')
        .execute();
    const stageEvents = async () =>
      (
        await database.db
          .selectFrom('outbox')
          .select('payload')
          .where('aggregate_id', '=', rollout.id)
          .where('event_type', '=', 'rollout.stage-started')
          .execute()
      ).map((row) => (row.payload as { stage: number }).stage);
    const raceAll = async () => {
      if (engine === 'postgres') {
        // Opens the pool's connections first, so the advances below run on many at once.
        await Promise.all(
          Array.from({ length: POOL_SIZE }, () => sql`select pg_sleep(0.05)`.execute(database.db)),
        );
      }
      const outcomes = await Promise.allSettled(
        Array.from({ length: ADVANCES }, (_, index) => stores[index % stores.length]!.advance(rollout.id)),
      );
      expect(outcomes.filter((outcome) => outcome.status === 'rejected')).toEqual([]);
      return outcomes.filter((outcome) => outcome.status === 'fulfilled' && outcome.value).length;
    };
    /** Finishes the stage's job as a worker does: claimed under a lease, then ended. */
    const finishOne = async (status: 'succeeded' | 'failed') => {
      const claimed = await jobs.claim('test-worker', 60_000, { perTenant: 10, total: 100 });
      expect(claimed?.rollout_id).toBe(rollout.id);
      await jobs.finish(claimed!, 'test-worker', { status, summary: {} });
    };

    // The canary's job is open: nobody may move on.
    expect(await raceAll()).toBe(0);
    expect((await rolloutJobs()).map((job) => job.rollout_stage)).toEqual([1]);

    await finishOne('succeeded');
    expect(await raceAll()).toBe(1);
    expect((await rolloutJobs()).map((job) => [job.rollout_stage, job.status])).toEqual([
      [1, 'succeeded'],
      [2, 'queued'],
    ]);
    expect(await stageEvents()).toEqual([1, 2]);

    await finishOne('failed');
    expect(await raceAll()).toBe(1);
    const ended = await stores[1]!.get(rollout.id, admin);
    expect(ended).toMatchObject({
      status: 'halted',
      current_stage: 2,
      reason: 'Stage 2: 1 of the 2 devices queued so far failed, more than the 0 allowed',
    });
    expect((await rolloutJobs()).map((job) => job.rollout_stage)).toEqual([1, 2]);
    expect(await stageEvents()).toEqual([1, 2]);
    expect(await raceAll()).toBe(0);
  });

  it.runIf(enabled)('tries nothing again under a rollout that halted while the job ran', async () => {
    const template = await templates.create(
      { tenantId, name: 'halt-while-running', spec: { identity: { name: 'halted' } }, variables: [] },
      admin,
    );
    const store = new RolloutStore(database.db, {
      devices: registry,
      templates,
      jobs,
      onEvent: () => undefined,
    });
    // Both devices of the canary at once: one fails while the other is still running.
    const rollout = await store.create(
      { tenantId, templateId: template.id, tag: 'race', policy: { canarySize: 2, batchSize: 1 } },
      admin,
    );
    const caps = { perTenant: 10, total: 100 };
    const failing = await jobs.claim('worker-a', 60_000, caps);
    const running = await jobs.claim('worker-b', 60_000, caps);
    expect([failing?.rollout_id, running?.rollout_id]).toEqual([rollout.id, rollout.id]);
    await jobs.finish(failing!, 'worker-a', { status: 'failed', summary: {}, error: 'refused' });
    expect(await store.advance(rollout.id)).toBe(true);
    expect((await store.get(rollout.id, admin))?.status).toBe('halted');

    // Its try fails as if the router timed out: it would be retried, but its rollout halted.
    expect(await jobs.reschedule(running!, 'worker-b', 'queued', 100, 'timed out')).toBe('rollout-stopped');
    const still = await database.db
      .selectFrom('provisioning_job')
      .select(['status', 'lease_owner'])
      .where('id', '=', running!.id)
      .executeTakeFirstOrThrow();
    expect(still).toEqual({ status: 'running', lease_owner: 'worker-b' });
    // What the worker does then: it ends the job canceled, saying why.
    await jobs.finish(running!, 'worker-b', {
      status: 'canceled',
      summary: {},
      error: 'Not tried again: its rollout stopped: timed out',
    });
    expect(await jobs.claim('worker-c', 60_000, caps)).toBeUndefined();
    const ended = await database.db
      .selectFrom('provisioning_job')
      .select(['status', 'error'])
      .where('id', '=', running!.id)
      .executeTakeFirstOrThrow();
    expect(ended).toEqual({ status: 'canceled', error: 'Not tried again: its rollout stopped: timed out' });
  });
});
