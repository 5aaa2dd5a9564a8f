import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, openDatabase, type Database, type Engine } from '@fleet/service-kit';
import { createServiceDatabases, postgresSuiteEnabled } from '../../../../test/support/postgres.js';
import { migrations } from '../database/migrations.js';
import type { DevicesDatabase, JobStatus } from '../database/schema.js';
import type { JobRow } from '../provisioning/job-store.js';
import type { PlannedChange } from '../provisioning/plan.js';
import { DriftStore } from './drift-store.js';

const logger = createLogger({ service: 'test', level: 'silent' });

const engines: { engine: Engine; enabled: boolean }[] = [
  { engine: 'pglite', enabled: true },
  { engine: 'postgres', enabled: await postgresSuiteEnabled() },
];

const RENAMED: PlannedChange = {
  action: 'set',
  menu: '/system/identity',
  itemId: null,
  properties: { name: 'gw' },
  before: { name: 'by-hand' },
};

/**
 * The drift store against a real database on both engines: detection recorded once while a
 * device stays drifted, resolved by a check or a job, a check overtaken by a job never
 * overwriting the job's word, and devices with a job under way left unchecked.
 */
describe.each(engines)('drift store on $engine', ({ engine, enabled }) => {
  let database: Database<DevicesDatabase>;
  let cleanup: () => Promise<void>;
  const tenantId = randomUUID();
  const templateId = randomUUID();

  const device = async () => {
    const id = randomUUID();
    await database.db
      .insertInto('device')
      .values({ id, tenant_id: tenantId, name: `d-${id}`, host: '10.0.0.1', port: 8729 })
      .execute();
    return id;
  };
  const job = (deviceId: string, status: JobStatus = 'succeeded'): Promise<JobRow> =>
    database.db
      .insertInto('provisioning_job')
      .values({
        id: randomUUID(),
        tenant_id: tenantId,
        device_id: deviceId,
        template_id: templateId,
        template_version: 1,
        variables: JSON.stringify({}),
        status,
        actor_kind: 'system',
        actor_id: null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
  const events = async (deviceId: string) =>
    (
      await database.db
        .selectFrom('outbox')
        .select('event_type')
        .where('aggregate_id', '=', deviceId)
        .orderBy('sequence')
        .execute()
    ).map((row) => row.event_type);

  beforeAll(async () => {
    if (!enabled) return;
    const dir = await mkdtemp(join(tmpdir(), 'drift-store-'));
    if (engine === 'postgres') {
      const { databases, drop } = await createServiceDatabases(['drift']);
      database = await openDatabase({ url: databases.drift.url, dataDir: dir, migrations, logger });
      cleanup = drop;
    } else {
      database = await openDatabase({ url: undefined, dataDir: dir, migrations, logger });
      cleanup = () => rm(dir, { recursive: true, force: true });
    }
  });

  afterAll(async () => {
    if (!enabled) return;
    await database.close();
    await cleanup();
  });

  it.runIf(enabled)(
    'records a detection once while the device stays drifted, and its resolution',
    async () => {
      const store = new DriftStore(database.db, { intervalSeconds: 60, onEvent: () => undefined });
      const id = await device();
      await store.jobSucceeded(await job(id));
      expect(await store.get(id)).toMatchObject({ status: 'in-sync', detected_at: null });
      const first = await store.recordCheck((await store.get(id))!, [RENAMED]);
      expect(first).toMatchObject({ status: 'drifted', changes: [RENAMED] });
      expect(first.detected_at).not.toBeNull();
      const again = await store.recordCheck(first, [RENAMED]);
      expect(again.detected_at).toEqual(first.detected_at);
      expect(await store.recordCheck(again, [])).toMatchObject({ status: 'in-sync', detected_at: null });
      expect(await events(id)).toEqual(['drift.detected', 'drift.resolved']);
    },
  );

  it.runIf(enabled)('lets a job that succeeded during a check have the last word', async () => {
    const store = new DriftStore(database.db, { intervalSeconds: 60, onEvent: () => undefined });
    const id = await device();
    await store.jobSucceeded(await job(id));
    const begun = (await store.get(id))!;
    const second = await job(id);
    await store.jobSucceeded(second);
    expect(await store.recordCheck(begun, [RENAMED])).toMatchObject({ status: 'in-sync', job_id: second.id });
    expect(await events(id)).toEqual([]);
  });

  it.runIf(enabled)('claims due devices once, never one with a job under way', async () => {
    const store = new DriftStore(database.db, { intervalSeconds: 60, onEvent: () => undefined });
    const idle = await device();
    const busy = await device();
    await store.jobSucceeded(await job(idle));
    await store.jobSucceeded(await job(busy));
    await job(busy, 'queued');
    await database.db
      .updateTable('device_drift')
      .set({ next_check_at: new Date(Date.now() - 60_000) })
      .where('device_id', 'in', [idle, busy])
      .execute();
    const claimed = (await store.claimDue(100)).map((row) => row.device_id);
    expect(claimed).toContain(idle);
    expect(claimed).not.toContain(busy);
    expect((await store.claimDue(100)).map((row) => row.device_id)).not.toContain(idle);
  });
});
