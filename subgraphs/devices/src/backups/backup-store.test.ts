import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, openDatabase, type Database, type Engine } from '@fleet/service-kit';
import { createServiceDatabases, postgresSuiteEnabled } from '../../../../test/support/postgres.js';
import { migrations } from '../database/migrations.js';
import type { DevicesDatabase } from '../database/schema.js';
import { BackupStore } from './backup-store.js';
import type { SnapshotContent } from './snapshot.js';

const logger = createLogger({ service: 'test', level: 'silent' });
const SYSTEM = { kind: 'system', id: null } as const;
const POOL_SIZE = 10;

const engines: { engine: Engine; enabled: boolean }[] = [
  { engine: 'pglite', enabled: true },
  { engine: 'postgres', enabled: await postgresSuiteEnabled() },
];

const content = (name: string): SnapshotContent => ({
  menus: [{ path: '/system/identity', items: [{ name }] }],
});

/**
 * The backup store against a real database on both engines: content stored once per digest,
 * the history bounded with the content it leaves behind deleted, and the scheduled backups of a
 * device claimed by one process only, however many ask at once.
 */
describe.each(engines)('backup store on $engine', ({ engine, enabled }) => {
  let database: Database<DevicesDatabase>;
  let cleanup: () => Promise<void>;
  const tenantId = randomUUID();

  /** A device row as enrollment leaves it, created `ageSeconds` ago. */
  const device = async (ageSeconds = 0) => {
    const id = randomUUID();
    await database.db
      .insertInto('device')
      .values({
        id,
        tenant_id: tenantId,
        name: `d-${id}`,
        host: '10.0.0.1',
        port: 8729,
        tls_mode: 'anonymous-dh',
        credentials: Buffer.from('sealed'),
        credentials_key_version: 1,
        created_at: sql<Date>`now() - make_interval(secs => ${ageSeconds})`,
      })
      .execute();
    return { id, tenant_id: tenantId };
  };
  const contentRows = async () =>
    (
      await database.db
        .selectFrom('backup_content')
        .select('digest')
        .where('tenant_id', '=', tenantId)
        .execute()
    ).map((row) => row.digest);

  beforeAll(async () => {
    if (!enabled) return;
    const dir = await mkdtemp(join(tmpdir(), 'backup-store-'));
    if (engine === 'postgres') {
      const { databases, drop } = await createServiceDatabases(['backups']);
      database = await openDatabase({
        url: databases.backups.url,
        dataDir: dir,
        migrations,
        logger,
        maxConnections: POOL_SIZE,
      });
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

  it.runIf(enabled)('stores the content of unchanged snapshots once, shared by both', async () => {
    const store = new BackupStore(database.db, { keep: 10, onEvent: () => undefined });
    const router = await device();
    const first = await store.record(router, content('gw'), { reason: 'manual', jobId: null, actor: SYSTEM });
    const second = await store.record(router, content('gw'), {
      reason: 'scheduled',
      jobId: null,
      actor: SYSTEM,
    });
    expect(second.id).not.toBe(first.id);
    expect(second.digest).toBe(first.digest);
    expect((await contentRows()).filter((digest) => digest === first.digest)).toHaveLength(1);
    expect(await store.content(second)).toEqual(content('gw'));
    const events = await database.db
      .selectFrom('outbox')
      .select(['event_type', 'payload'])
      .where('aggregate_id', '=', second.id)
      .execute();
    expect(events).toEqual([
      {
        event_type: 'backup.taken',
        payload: expect.objectContaining({ deviceId: router.id, digest: first.digest, reason: 'scheduled' }),
      },
    ]);
  });

  it.runIf(enabled)(
    'keeps the newest snapshots of a device and deletes the content left behind',
    async () => {
      const store = new BackupStore(database.db, { keep: 3, onEvent: () => undefined });
      const router = await device();
      const taken = [];
      for (const name of ['a', 'b', 'c', 'd', 'e']) {
        taken.push(
          await store.record(router, content(name), { reason: 'manual', jobId: null, actor: SYSTEM }),
        );
      }
      const kept = await store.listByDevice(router.id, 100);
      expect(kept.map((backup) => backup.id)).toEqual(
        taken
          .slice(2)
          .reverse()
          .map((backup) => backup.id),
      );
      const digests = await contentRows();
      for (const gone of taken.slice(0, 2)) expect(digests).not.toContain(gone.digest);
      for (const left of taken.slice(2)) expect(digests).toContain(left.digest);
    },
  );

  it.runIf(enabled)("removes a device's snapshots with it, and the sweep its content", async () => {
    const store = new BackupStore(database.db, { keep: 10, onEvent: () => undefined });
    const router = await device();
    const backup = await store.record(router, content('removed-one'), {
      reason: 'manual',
      jobId: null,
      actor: SYSTEM,
    });
    await database.db.deleteFrom('device').where('id', '=', router.id).execute();
    expect(await store.get(backup.id)).toBeUndefined();
    expect(await contentRows()).toContain(backup.digest);
    await store.sweep();
    expect(await contentRows()).not.toContain(backup.digest);
  });

  it.runIf(enabled)('gives each due device to one of many processes claiming at once', async () => {
    const store = new BackupStore(database.db, { keep: 10, onEvent: () => undefined });
    // Devices made before: their earlier ones are claimed out of the way first.
    while ((await store.claimDue(60, 100)).length > 0);
    const due = await Promise.all(Array.from({ length: 12 }, () => device(120)));
    const young = await device(0);
    const claimed: string[] = [];
    for (;;) {
      const round = (await Promise.all(Array.from({ length: 6 }, () => store.claimDue(60, 3)))).flat();
      if (round.length === 0) break;
      claimed.push(...round.map((row) => row.id));
    }
    expect(new Set(claimed).size).toBe(claimed.length);
    expect(new Set(claimed)).toEqual(new Set(due.map((row) => row.id)));
    expect(claimed).not.toContain(young.id);
    // Claimed means not due again before an interval.
    expect(await store.claimDue(60, 100)).toEqual([]);
  });
});
