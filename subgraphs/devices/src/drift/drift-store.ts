import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import { outboxTablesOf, recordEvent, type EventActor } from '@fleet/outbox';
import type { DevicesDatabase } from '../database/schema.js';
import { summarize, type JobRow } from '../provisioning/job-store.js';
import type { PlannedChange } from '../provisioning/plan.js';

export type DriftRow = Selectable<DevicesDatabase['device_drift']>;

/**
 * Each provisioned device's desired state (the template version and variables of its last
 * succeeded job) and what the last drift check found. `drift.detected` is recorded when a device
 * becomes drifted, not at each check that finds it still so; `drift.resolved` when it is back in
 * sync, by a check or a job.
 */
export class DriftStore {
  readonly #db: Kysely<DevicesDatabase>;
  readonly #intervalSeconds: number;
  readonly #onEvent: () => void;

  constructor(db: Kysely<DevicesDatabase>, options: { intervalSeconds: number; onEvent: () => void }) {
    this.#db = db;
    this.#intervalSeconds = options.intervalSeconds;
    this.#onEvent = options.onEvent;
  }

  async get(deviceId: string): Promise<DriftRow | undefined> {
    return this.#db
      .selectFrom('device_drift')
      .selectAll()
      .where('device_id', '=', deviceId)
      .executeTakeFirst();
  }

  /** The variables the desired state was rendered with: those of its job. */
  async variablesOf(drift: DriftRow): Promise<unknown> {
    const job = await this.#db
      .selectFrom('provisioning_job')
      .select('variables')
      .where('id', '=', drift.job_id)
      .executeTakeFirst();
    return job?.variables ?? {};
  }

  /** A job succeeded: its template version is the device's desired state, and the router has it. */
  async jobSucceeded(job: JobRow): Promise<void> {
    const recorded = await this.#db.transaction().execute(async (trx) => {
      const before = await this.#locked(trx, job.device_id);
      const row = await trx
        .insertInto('device_drift')
        .values({
          device_id: job.device_id,
          tenant_id: job.tenant_id,
          job_id: job.id,
          template_id: job.template_id,
          template_version: job.template_version,
          status: 'in-sync',
          changes: JSON.stringify([]),
          detected_at: null,
          next_check_at: this.#nextCheck(),
        })
        .onConflict((oc) =>
          oc.column('device_id').doUpdateSet({
            job_id: job.id,
            template_id: job.template_id,
            template_version: job.template_version,
            status: 'in-sync',
            changes: JSON.stringify([]),
            checked_at: sql<Date>`now()`,
            detected_at: null,
            next_check_at: this.#nextCheck(),
          }),
        )
        .returningAll()
        .executeTakeFirstOrThrow();
      if (before?.status !== 'drifted') return false;
      await this.#record(trx, row, 'drift.resolved', { jobId: job.id });
      return true;
    });
    if (recorded) this.#onEvent();
  }

  /**
   * Takes up to `limit` devices whose drift check is due, and moves their next check an interval
   * on so that no other process takes them. A device with a job under way waits: the job will
   * tell.
   */
  async claimDue(limit: number): Promise<DriftRow[]> {
    const claimed = await sql<DriftRow>`
      update device_drift
      set next_check_at = ${this.#nextCheck()}
      where device_id in (
        select d.device_id from device_drift d
        where d.next_check_at <= now()
          and not exists (
            select 1 from provisioning_job j
            where j.device_id = d.device_id and j.status in ('queued', 'waiting', 'running'))
        order by d.next_check_at
        limit ${limit}
        for update skip locked)
      returning *`.execute(this.#db);
    return claimed.rows;
  }

  /**
   * Records what a check of `checked` (the row as it stood when the check began) found, unless a
   * job or another check wrote the row since: theirs is the newer word.
   */
  async recordCheck(checked: DriftRow, changes: readonly PlannedChange[]): Promise<DriftRow> {
    let recorded = false;
    const row = await this.#db.transaction().execute(async (trx) => {
      const before = await this.#locked(trx, checked.device_id);
      if (
        !before ||
        before.job_id !== checked.job_id ||
        before.checked_at.getTime() !== checked.checked_at.getTime()
      )
        return before;
      const drifted = changes.length > 0;
      const row = await trx
        .updateTable('device_drift')
        .set({
          status: drifted ? 'drifted' : 'in-sync',
          changes: JSON.stringify(changes),
          checked_at: sql<Date>`now()`,
          detected_at: drifted ? (before.detected_at ?? sql<Date>`now()`) : null,
        })
        .where('device_id', '=', checked.device_id)
        .returningAll()
        .executeTakeFirstOrThrow();
      if (drifted && before.status !== 'drifted') {
        await this.#record(trx, row, 'drift.detected', {
          summary: summarize(changes),
          changes: changes.length,
        });
        recorded = true;
      } else if (!drifted && before.status === 'drifted') {
        await this.#record(trx, row, 'drift.resolved', {});
        recorded = true;
      }
      return row;
    });
    if (recorded) this.#onEvent();
    return row ?? checked;
  }

  #nextCheck() {
    return sql<Date>`now() + make_interval(secs => ${this.#intervalSeconds})`;
  }

  async #locked(trx: Transaction<DevicesDatabase>, deviceId: string): Promise<DriftRow | undefined> {
    return trx
      .selectFrom('device_drift')
      .selectAll()
      .where('device_id', '=', deviceId)
      .forUpdate()
      .executeTakeFirst();
  }

  async #record(
    trx: Transaction<DevicesDatabase>,
    drift: DriftRow,
    type: string,
    extra: Record<string, unknown>,
  ): Promise<void> {
    const actor: EventActor = { kind: 'system', id: null };
    await recordEvent(outboxTablesOf(trx), {
      aggregateType: 'device-drift',
      aggregateId: drift.device_id,
      type,
      tenantId: drift.tenant_id,
      actor,
      payload: {
        deviceId: drift.device_id,
        tenantId: drift.tenant_id,
        templateId: drift.template_id,
        templateVersion: drift.template_version,
        status: drift.status,
        checkedAt: drift.checked_at.toISOString(),
        detectedAt: drift.detected_at?.toISOString() ?? null,
        ...extra,
      },
    });
  }
}
