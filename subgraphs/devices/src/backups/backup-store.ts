import { randomUUID } from 'node:crypto';
import { sql, type Kysely, type Selectable } from 'kysely';
import { outboxTablesOf, recordEvent, type EventActor } from '@fleet/outbox';
import type { BackupReason, DevicesDatabase } from '../database/schema.js';
import { isUuid } from '../registry/device-input.js';
import type { DeviceRow } from '../registry/device-registry.js';
import { digestOf, parseSnapshot, serializeSnapshot, type SnapshotContent } from './snapshot.js';

export type BackupRow = Selectable<DevicesDatabase['device_backup']>;

/**
 * Snapshots of devices' managed menus, in the database. A snapshot row names its device, why it
 * was taken and the digest of its content; the content is stored once per tenant and digest, so
 * the snapshots of a router that did not change share one. Each device keeps its newest `keep`
 * snapshots; content no snapshot points at any more is deleted.
 */
export class BackupStore {
  readonly #db: Kysely<DevicesDatabase>;
  readonly #keep: number;
  readonly #onEvent: () => void;

  constructor(db: Kysely<DevicesDatabase>, options: { keep: number; onEvent: () => void }) {
    this.#db = db;
    this.#keep = options.keep;
    this.#onEvent = options.onEvent;
  }

  /** Stores a snapshot (its content only if new), drops the device's oldest beyond `keep`. */
  async record(
    device: Pick<DeviceRow, 'id' | 'tenant_id'>,
    content: SnapshotContent,
    taken: { reason: BackupReason; jobId: string | null; actor: EventActor },
  ): Promise<BackupRow> {
    const serialized = serializeSnapshot(content);
    const digest = digestOf(serialized);
    const { row, pruned } = await this.#db.transaction().execute(async (trx) => {
      await trx
        .insertInto('backup_content')
        .values({ tenant_id: device.tenant_id, digest, content: serialized })
        .onConflict((oc) => oc.columns(['tenant_id', 'digest']).doNothing())
        .execute();
      const row = await trx
        .insertInto('device_backup')
        .values({
          id: randomUUID(),
          tenant_id: device.tenant_id,
          device_id: device.id,
          digest,
          reason: taken.reason,
          job_id: taken.jobId,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      const pruned = await trx
        .deleteFrom('device_backup')
        .where('device_id', '=', device.id)
        .where(
          'id',
          'not in',
          trx
            .selectFrom('device_backup')
            .select('id')
            .where('device_id', '=', device.id)
            .orderBy('taken_at', 'desc')
            .orderBy('id', 'desc')
            .limit(this.#keep),
        )
        .returning('digest')
        .execute();
      await recordEvent(outboxTablesOf(trx), {
        aggregateType: 'device-backup',
        aggregateId: row.id,
        type: 'backup.taken',
        tenantId: device.tenant_id,
        actor: taken.actor,
        payload: {
          id: row.id,
          deviceId: device.id,
          tenantId: device.tenant_id,
          digest,
          reason: taken.reason,
          jobId: taken.jobId,
          takenAt: row.taken_at.toISOString(),
          pruned: pruned.length,
        },
      });
      return { row, pruned };
    });
    this.#onEvent();
    await this.deleteUnused(device.tenant_id, [...new Set(pruned.map((gone) => gone.digest))]);
    return row;
  }

  /**
   * Deletes content of these digests that no snapshot points at any more. Content a snapshot
   * took up meanwhile stays: its foreign key refuses the deletion, and the refusal is no failure.
   */
  async deleteUnused(tenantId: string, digests: readonly string[]): Promise<void> {
    if (digests.length === 0) return;
    await ignoringReferenced(
      this.#db
        .deleteFrom('backup_content')
        .where('tenant_id', '=', tenantId)
        .where('digest', 'in', digests)
        .where((eb) =>
          eb.not(
            eb.exists(
              eb
                .selectFrom('device_backup')
                .select(sql`1`.as('one'))
                .whereRef('device_backup.tenant_id', '=', 'backup_content.tenant_id')
                .whereRef('device_backup.digest', '=', 'backup_content.digest'),
            ),
          ),
        )
        .execute(),
    );
  }

  /** Deletes up to `limit` contents no snapshot points at (left by removed devices). */
  async sweep(limit = 500): Promise<void> {
    await ignoringReferenced(
      sql`
        delete from backup_content
        where (tenant_id, digest) in (
          select c.tenant_id, c.digest from backup_content c
          where not exists (
            select 1 from device_backup b where b.tenant_id = c.tenant_id and b.digest = c.digest)
          limit ${limit})`.execute(this.#db),
    );
  }

  async get(id: string): Promise<BackupRow | undefined> {
    if (!isUuid(id)) return undefined;
    return this.#db
      .selectFrom('device_backup')
      .selectAll()
      .where('id', '=', id.toLowerCase())
      .executeTakeFirst();
  }

  /** A device's newest snapshots first. */
  async listByDevice(deviceId: string, limit: number): Promise<BackupRow[]> {
    return this.#db
      .selectFrom('device_backup')
      .selectAll()
      .where('device_id', '=', deviceId)
      .orderBy('taken_at', 'desc')
      .orderBy('id', 'desc')
      .limit(limit)
      .execute();
  }

  async content(backup: BackupRow): Promise<SnapshotContent> {
    const row = await this.#db
      .selectFrom('backup_content')
      .select('content')
      .where('tenant_id', '=', backup.tenant_id)
      .where('digest', '=', backup.digest)
      .executeTakeFirstOrThrow();
    return parseSnapshot(row.content);
  }

  /**
   * Takes up to `limit` devices whose scheduled backup is due, and moves their next one an
   * interval on, so that no other process takes them (rows another holds are skipped). A device
   * is due one interval after it was created, then every interval; one in the middle of a job
   * waits for its end (the job's own snapshot follows it).
   */
  async claimDue(intervalSeconds: number, limit: number): Promise<DeviceRow[]> {
    const claimed = await sql<DeviceRow>`
      update device
      set next_backup_at = now() + make_interval(secs => ${intervalSeconds})
      where id in (
        select d.id from device d
        where d.credentials is not null
          and coalesce(d.next_backup_at, d.created_at + make_interval(secs => ${intervalSeconds})) <= now()
          and not exists (
            select 1 from provisioning_job j where j.device_id = d.id and j.status = 'running')
        order by coalesce(d.next_backup_at, d.created_at)
        limit ${limit}
        for update skip locked)
      returning *`.execute(this.#db);
    return claimed.rows;
  }
}

async function ignoringReferenced(deletion: Promise<unknown>): Promise<void> {
  try {
    await deletion;
  } catch (error) {
    if ((error as { code?: string }).code !== '23503') throw error;
  }
}
