import { randomUUID } from 'node:crypto';
import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import { actorOf, outboxTablesOf, recordEvent, type EventActor } from '@fleet/outbox';
import { BadUserInputError, hasScopeIn, NotFoundError, type Principal } from '@fleet/service-kit';
import type { DevicesDatabase, JobStatus } from '../database/schema.js';
import { isUuid } from '../registry/device-input.js';
import type { DeviceRegistry } from '../registry/device-registry.js';
import type { TemplateStore } from '../templates/template-store.js';
import type { PlannedChange } from './plan.js';

export type JobRow = Selectable<DevicesDatabase['provisioning_job']>;
export type FaultRow = Selectable<DevicesDatabase['job_fault']>;

/** A job to queue, its values checked; a rollout's names the rollout and the stage. */
export interface NewJob {
  tenantId: string;
  deviceId: string;
  templateId: string;
  version: number;
  variables: unknown;
  rollout?: { id: string; stage: number };
}

/** How many changes a job made, per menu and action. */
export type JobSummary = Record<string, Partial<Record<PlannedChange['action'], number>>>;

export function summarize(changes: readonly PlannedChange[]): JobSummary {
  const summary: JobSummary = {};
  for (const change of changes) {
    const menu = (summary[change.menu] ??= {});
    menu[change.action] = (menu[change.action] ?? 0) + 1;
  }
  return summary;
}

/**
 * Provisioning jobs, durable in the database. A worker holds a job by a lease it renews while it
 * works; a job whose lease ran out (its worker died) is taken up again, from the router's live
 * state, so nothing is applied twice. One job runs per device at a time (a unique index), and at
 * most `caps.perTenant` per tenant and `caps.total` in all.
 */
export class JobStore {
  readonly #db: Kysely<DevicesDatabase>;
  readonly #devices: DeviceRegistry;
  readonly #templates: TemplateStore;
  readonly #onEvent: () => void;

  constructor(
    db: Kysely<DevicesDatabase>,
    parts: { devices: DeviceRegistry; templates: TemplateStore; onEvent: () => void },
  ) {
    this.#db = db;
    this.#devices = parts.devices;
    this.#templates = parts.templates;
    this.#onEvent = parts.onEvent;
  }

  /** Queues a job, once the device, the template version and the device's values check out. */
  async enqueue(
    input: { deviceId: string; templateId: string; version?: number | null; variables?: unknown },
    principal: Principal,
  ): Promise<JobRow> {
    const device = await this.#devices.get(input.deviceId);
    if (!device || !hasScopeIn(principal, 'devices:write', device.tenant_id))
      throw new NotFoundError('Device');
    const template = await this.#templates.get(input.templateId, principal);
    if (!template || template.tenantId !== device.tenant_id) throw new NotFoundError('Template');
    const { version } = await this.#templates.render(template.id, input.version, input.variables, principal);
    const [job] = await this.#db.transaction().execute((trx) =>
      this.queueIn(
        trx,
        [
          {
            tenantId: device.tenant_id,
            deviceId: device.id,
            templateId: template.id,
            version,
            variables: input.variables ?? {},
          },
        ],
        actorOf(principal),
      ),
    );
    this.#onEvent();
    return job!;
  }

  /**
   * Queues jobs, each with its event, in the caller's transaction: a rollout queues a stage's
   * jobs together with its own change. The values were checked by the caller. A rollout's jobs
   * are dated by the statement that queues them, so a stage queued once the one before was seen
   * finished is dated after that stage's jobs finished.
   */
  async queueIn(
    trx: Transaction<DevicesDatabase>,
    jobs: readonly NewJob[],
    actor: EventActor,
  ): Promise<JobRow[]> {
    if (jobs.length === 0) return [];
    const rows = await trx
      .insertInto('provisioning_job')
      .values(
        jobs.map((job) => ({
          id: randomUUID(),
          tenant_id: job.tenantId,
          device_id: job.deviceId,
          template_id: job.templateId,
          template_version: job.version,
          variables: JSON.stringify(job.variables),
          status: 'queued' as const,
          actor_kind: actor.kind,
          actor_id: actor.id,
          ...(job.rollout
            ? {
                rollout_id: job.rollout.id,
                rollout_stage: job.rollout.stage,
                created_at: sql<Date>`statement_timestamp()`,
              }
            : {}),
        })),
      )
      .returningAll()
      .execute();
    for (const row of rows) await this.#record(trx, row, 'provisioning.job-queued', actor, {});
    return rows;
  }

  /**
   * Cancels, in the caller's transaction, a rollout's jobs not yet running (of one stage, or of
   * all), each with its event; running ones go on to their end. Answers how many it canceled.
   */
  async cancelNotStartedIn(
    trx: Transaction<DevicesDatabase>,
    rollout: { id: string; stage?: number },
    error: string,
  ): Promise<number> {
    let query = trx
      .updateTable('provisioning_job')
      .set({ status: 'canceled', error, finished_at: sql<Date>`now()` })
      .where('rollout_id', '=', rollout.id)
      .where('status', 'in', ['queued', 'waiting']);
    if (rollout.stage !== undefined) query = query.where('rollout_stage', '=', rollout.stage);
    const rows = await query.returningAll().execute();
    for (const row of rows)
      await this.#record(trx, row, 'provisioning.job-canceled', { kind: 'system', id: null }, { error });
    return rows.length;
  }

  /**
   * Cancels, in the caller's transaction, every unfinished job of a rollout: those not yet
   * running at once, a running one before its next change or at the end of its try.
   */
  async cancelAllIn(trx: Transaction<DevicesDatabase>, rolloutId: string, error: string): Promise<void> {
    await this.#cancelIn(trx, { rolloutId }, { kind: 'system', id: null }, error);
  }

  /**
   * Cancels the unfinished jobs of one job id or of a rollout, with their events: a queued or
   * waiting job ends now; a running one is asked to stop, which its worker sees before its next
   * change and at the end of its try. One statement, so that a job the worker takes or puts
   * back to wait at the same moment is still canceled one way or the other.
   */
  async #cancelIn(
    trx: Transaction<DevicesDatabase>,
    which: { id: string } | { rolloutId: string },
    actor: EventActor,
    error?: string,
  ): Promise<JobRow[]> {
    const notStarted = sql<boolean>`status in ('queued', 'waiting')`;
    const rows = await trx
      .updateTable('provisioning_job')
      .set({
        status: sql<JobStatus>`case when ${notStarted} then 'canceled' else status end`,
        finished_at: sql<Date | null>`case when ${notStarted} then now() else finished_at end`,
        cancel_requested: true,
        ...(error === undefined ? {} : { error }),
      })
      .where('id' in which ? 'id' : 'rollout_id', '=', 'id' in which ? which.id : which.rolloutId)
      .where('status', 'in', ['queued', 'waiting', 'running'])
      .returningAll()
      .execute();
    for (const row of rows) {
      const type =
        row.status === 'canceled' ? 'provisioning.job-canceled' : 'provisioning.job-cancel-requested';
      await this.#record(trx, row, type, actor, error === undefined ? {} : { error });
    }
    return rows;
  }

  /**
   * Takes the oldest job that is due and free: queued, waiting, or running under a lease that
   * ran out; never a second one of a device, nor more than `caps.perTenant` of a tenant or
   * `caps.total` in all, across every process.
   */
  async claim(
    owner: string,
    leaseMs: number,
    caps: { perTenant: number; total: number },
  ): Promise<JobRow | undefined> {
    try {
      const claimed = await sql<JobRow>`
        update provisioning_job
        set status = 'running', lease_owner = ${owner},
            lease_until = now() + make_interval(secs => ${leaseMs / 1000}),
            attempts = attempts + 1, started_at = coalesce(started_at, now())
        where id = (
          select j.id from provisioning_job j
          where j.status in ('queued', 'waiting', 'running')
            and j.next_attempt_at <= now()
            and (j.lease_until is null or j.lease_until < now())
            and not exists (
              select 1 from provisioning_job o
              where o.device_id = j.device_id and o.id <> j.id and o.status = 'running')
            and (select count(*) from provisioning_job t
                 where t.tenant_id = j.tenant_id and t.status = 'running' and t.lease_until >= now()) < ${caps.perTenant}
            and (select count(*) from provisioning_job a
                 where a.status = 'running' and a.lease_until >= now()) < ${caps.total}
          order by j.created_at
          limit 1
          for update skip locked)
        returning *`.execute(this.#db);
      return claimed.rows[0];
    } catch (error) {
      // Another worker took the device's turn at the same moment (the unique index): next time.
      if ((error as { code?: string }).code === '23505') return undefined;
      throw error;
    }
  }

  /** Renews a lease; answers whether the job should stop (canceled, or taken by another). */
  async renew(id: string, owner: string, leaseMs: number): Promise<{ held: boolean; cancel: boolean }> {
    const row = await this.#db
      .updateTable('provisioning_job')
      .set({ lease_until: sql<Date>`now() + make_interval(secs => ${leaseMs / 1000})` })
      .where('id', '=', id)
      .where('lease_owner', '=', owner)
      .where('status', '=', 'running')
      .returning('cancel_requested')
      .executeTakeFirst();
    return { held: row !== undefined, cancel: row?.cancel_requested ?? false };
  }

  /** Records that an attempt has planned and starts changing the router: the plan's summary. */
  async recordStarted(job: JobRow, planned: JobSummary): Promise<void> {
    await this.#db.transaction().execute(async (trx) => {
      await this.#record(trx, job, 'provisioning.job-started', { kind: 'system', id: null }, { planned });
    });
    this.#onEvent();
  }

  /** Ends a job, if the worker still holds it (answers whether it did); its event carries the summary of what changed. */
  async finish(
    job: JobRow,
    owner: string,
    outcome: {
      status: Extract<JobStatus, 'succeeded' | 'failed' | 'canceled'>;
      summary: JobSummary;
      error?: string;
    },
  ): Promise<boolean> {
    const ended = await this.#db.transaction().execute(async (trx) => {
      const row = await trx
        .updateTable('provisioning_job')
        .set({
          status: outcome.status,
          summary: JSON.stringify(outcome.summary),
          // A canceled job keeps the error it was canceled with, unless the worker names one.
          ...(outcome.status === 'canceled' && outcome.error === undefined
            ? {}
            : { error: outcome.error ?? null }),
          lease_owner: null,
          lease_until: null,
          finished_at: sql<Date>`now()`,
        })
        .where('id', '=', job.id)
        .where('lease_owner', '=', owner)
        .returningAll()
        .executeTakeFirst();
      if (row) {
        await this.#record(
          trx,
          row,
          `provisioning.job-${outcome.status}`,
          { kind: 'system', id: null },
          {
            summary: outcome.summary,
            ...(outcome.error ? { error: outcome.error } : {}),
          },
        );
      }
      return row !== undefined;
    });
    this.#onEvent();
    return ended;
  }

  /**
   * Puts a job back to wait for its next attempt (`waiting`: the device is offline), unless it
   * was asked to stop meanwhile or is another worker's now (`canceled`), or else its rollout is
   * no longer running (`rollout-stopped`: a halted rollout tries nothing again).
   */
  async reschedule(
    job: JobRow,
    owner: string,
    status: 'queued' | 'waiting',
    delayMs: number,
    error: string,
  ): Promise<'rescheduled' | 'canceled' | 'rollout-stopped'> {
    return this.#db.transaction().execute(async (trx) => {
      if (job.rollout_id !== null) {
        // Under the lock a rollout's advance takes: a halt committed first is seen here, and
        // one that comes later finds the job waiting, and cancels it with the stage's others.
        const rollout = await trx
          .selectFrom('rollout')
          .select('status')
          .where('id', '=', job.rollout_id)
          .forShare()
          .executeTakeFirst();
        if (rollout?.status !== 'running') {
          // A job asked to stop (its rollout canceled, say) ends as it was asked.
          const held = await trx
            .selectFrom('provisioning_job')
            .select('cancel_requested')
            .where('id', '=', job.id)
            .where('lease_owner', '=', owner)
            .executeTakeFirst();
          return held && !held.cancel_requested ? 'rollout-stopped' : 'canceled';
        }
      }
      const row = await trx
        .updateTable('provisioning_job')
        .set({
          status,
          error,
          lease_owner: null,
          lease_until: null,
          next_attempt_at: sql<Date>`now() + make_interval(secs => ${delayMs / 1000})`,
        })
        .where('id', '=', job.id)
        .where('lease_owner', '=', owner)
        .where('cancel_requested', '=', false)
        .executeTakeFirst();
      return row.numUpdatedRows > 0n ? 'rescheduled' : 'canceled';
    });
  }

  async recordFault(job: JobRow, message: string, changesDone: readonly PlannedChange[]): Promise<void> {
    await this.#db
      .insertInto('job_fault')
      .values({
        job_id: job.id,
        device_id: job.device_id,
        attempt: job.attempts,
        message,
        changes_done: JSON.stringify(changesDone),
      })
      .execute();
  }

  /**
   * Queues a rollout stage's failed and canceled jobs again, in the caller's transaction (the
   * rollout resumes), each with its event.
   */
  async requeueIn(
    trx: Transaction<DevicesDatabase>,
    rollout: { id: string; stage: number },
    actor: EventActor,
  ): Promise<JobRow[]> {
    const rows = await trx
      .updateTable('provisioning_job')
      .set(queuedAgain())
      .where('rollout_id', '=', rollout.id)
      .where('rollout_stage', '=', rollout.stage)
      .where('status', 'in', ['failed', 'canceled'])
      .returningAll()
      .execute();
    for (const row of rows) await this.#record(trx, row, 'provisioning.job-queued', actor, {});
    return rows;
  }

  /** A failed or canceled job, queued again now. */
  async retry(id: string, principal: Principal): Promise<JobRow> {
    const job = await this.#writable(id, principal);
    if (job.status !== 'failed' && job.status !== 'canceled') {
      throw new BadUserInputError(
        `Only a failed or canceled job can be retried; this one is ${job.status}`,
        'id',
      );
    }
    const retried = await this.#db.transaction().execute(async (trx) => {
      const row = await trx
        .updateTable('provisioning_job')
        .set(queuedAgain())
        .where('id', '=', job.id)
        .returningAll()
        .executeTakeFirstOrThrow();
      await this.#record(trx, row, 'provisioning.job-retried', actorOf(principal), {});
      return row;
    });
    this.#onEvent();
    return retried;
  }

  /** Cancels a job not yet running; a running one stops before its next change or after its try. */
  async cancel(id: string, principal: Principal): Promise<JobRow> {
    const job = await this.#writable(id, principal);
    const [canceled] = await this.#db
      .transaction()
      .execute((trx) => this.#cancelIn(trx, { id: job.id }, actorOf(principal)));
    if (!canceled) {
      const now = await this.#row(job.id);
      throw new BadUserInputError(`The job is ${now?.status ?? job.status} already`, 'id');
    }
    this.#onEvent();
    return canceled;
  }

  async get(id: string, principal: Principal): Promise<JobRow | undefined> {
    const job = await this.#row(id);
    return job && hasScopeIn(principal, 'devices:read', job.tenant_id) ? job : undefined;
  }

  async listByDevice(deviceId: string): Promise<JobRow[]> {
    return this.#db
      .selectFrom('provisioning_job')
      .selectAll()
      .where('device_id', '=', deviceId)
      .orderBy('created_at', 'desc')
      .limit(100)
      .execute();
  }

  async faults(jobId: string): Promise<FaultRow[]> {
    return this.#db.selectFrom('job_fault').selectAll().where('job_id', '=', jobId).orderBy('id').execute();
  }

  async #row(id: string): Promise<JobRow | undefined> {
    if (!isUuid(id)) return undefined;
    return this.#db
      .selectFrom('provisioning_job')
      .selectAll()
      .where('id', '=', id.toLowerCase())
      .executeTakeFirst();
  }

  async #writable(id: string, principal: Principal): Promise<JobRow> {
    const job = await this.#row(id);
    if (!job || !hasScopeIn(principal, 'devices:write', job.tenant_id)) throw new NotFoundError('Job');
    return job;
  }

  async #record(
    trx: Parameters<typeof outboxTablesOf>[0],
    job: JobRow,
    type: string,
    actor: EventActor,
    extra: Record<string, unknown>,
  ): Promise<void> {
    await recordEvent(outboxTablesOf(trx), {
      aggregateType: 'provisioning-job',
      aggregateId: job.id,
      type,
      tenantId: job.tenant_id,
      actor,
      payload: {
        id: job.id,
        deviceId: job.device_id,
        templateId: job.template_id,
        templateVersion: job.template_version,
        status: job.status,
        attempts: job.attempts,
        ...(job.rollout_id ? { rolloutId: job.rollout_id, rolloutStage: job.rollout_stage } : {}),
        ...extra,
      },
    });
  }
}

/** What a failed or canceled job becomes when it is queued again: due now, with nothing left of before. */
function queuedAgain() {
  return {
    status: 'queued' as const,
    error: null,
    cancel_requested: false,
    next_attempt_at: sql<Date>`now()`,
    finished_at: null,
  };
}
