import { randomUUID } from 'node:crypto';
import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import { actorOf, outboxTablesOf, recordEvent, type EventActor } from '@fleet/outbox';
import {
  BadUserInputError,
  ConflictError,
  ForbiddenError,
  hasScopeIn,
  NotFoundError,
  type Principal,
} from '@fleet/service-kit';
import type { DevicesDatabase, JobStatus } from '../database/schema.js';
import type { JobRow, JobStore } from '../provisioning/job-store.js';
import { isUuid } from '../registry/device-input.js';
import type { DeviceRegistry } from '../registry/device-registry.js';
import type { TemplateStore } from '../templates/template-store.js';
import { validateSelector, valuesPerDevice } from './rollout-input.js';
import { decide, stagesOf, validatePolicy, type RolloutPolicy } from './rollout-policy.js';

export type RolloutRow = Selectable<DevicesDatabase['rollout']>;

export interface ApplyBulkInput {
  tenantId: string;
  templateId: string;
  version?: number | null;
  site?: string | null;
  tag?: string | null;
  variables?: unknown;
  deviceVariables?: unknown;
  policy?: Partial<Record<keyof RolloutPolicy, number | null>> | null;
}

/** How many of a rollout's (or a stage's) devices are where: not queued yet, or by job status. */
export type RolloutCounts = { devices: number; notQueued: number } & Record<JobStatus, number>;

export interface StageProgressView {
  number: number;
  deviceIds: string[];
  counts: RolloutCounts;
  /** When its jobs were queued; null for a stage not queued. */
  queuedAt: Date | null;
}

const TARGETS_PER_INSERT = 1_000;
const FINISHED: readonly JobStatus[] = ['succeeded', 'failed', 'canceled'];
const DEADLINE_PASSED = "The rollout's stage deadline passed before the job could run";
const CANCELED = 'The rollout was canceled';
const HALTED = 'The rollout halted';

export function policyOf(row: RolloutRow): RolloutPolicy {
  return {
    canarySize: row.canary_size,
    batchSize: row.batch_size,
    maxFailures: row.max_failures,
    maxFailurePercent: row.max_failure_percent,
    stageTimeoutSeconds: row.stage_timeout_seconds,
  };
}

function emptyCounts(): RolloutCounts {
  return {
    devices: 0,
    notQueued: 0,
    queued: 0,
    waiting: 0,
    running: 0,
    succeeded: 0,
    failed: 0,
    canceled: 0,
  };
}

/**
 * Staged rollouts of a template version over a tenant's devices of a site and/or tag, durable in
 * the database. The devices are fixed, with their checked values, when the rollout is asked for;
 * each stage's jobs are ordinary provisioning jobs (the job worker's locks, caps, retries and
 * waiting apply), queued only once the stage before ended within the failure threshold. Every
 * step happens under the rollout's row lock, in one transaction with its events, so however many
 * devices processes look at a rollout, no stage is queued twice.
 */
export class RolloutStore {
  readonly #db: Kysely<DevicesDatabase>;
  readonly #devices: DeviceRegistry;
  readonly #templates: TemplateStore;
  readonly #jobs: JobStore;
  readonly #onEvent: () => void;

  constructor(
    db: Kysely<DevicesDatabase>,
    parts: { devices: DeviceRegistry; templates: TemplateStore; jobs: JobStore; onEvent: () => void },
  ) {
    this.#db = db;
    this.#devices = parts.devices;
    this.#templates = parts.templates;
    this.#jobs = parts.jobs;
    this.#onEvent = parts.onEvent;
  }

  /**
   * Starts a rollout: selects the devices (by name), checks and renders every device's values,
   * and queues the canary stage, all or nothing.
   */
  async create(input: ApplyBulkInput, principal: Principal): Promise<RolloutRow> {
    if (!isUuid(input.tenantId)) throw new BadUserInputError('tenantId must be a UUID', 'tenantId');
    const tenantId = input.tenantId.toLowerCase();
    if (!hasScopeIn(principal, 'devices:write', tenantId)) throw new ForbiddenError();
    const selector = validateSelector(input);
    const policy = validatePolicy(input.policy);
    const template = await this.#templates.get(input.templateId, principal);
    if (!template || template.tenantId !== tenantId) throw new NotFoundError('Template');
    const versions = await this.#templates.versions(template.id);
    const chosen =
      input.version == null
        ? versions.at(-1)
        : versions.find((candidate) => candidate.version === input.version);
    if (!chosen)
      throw new BadUserInputError(`template ${template.name} has no version ${input.version}`, 'version');
    const selectorField = selector.tag !== null ? 'tag' : 'site';
    const devices = await this.#devices.listByTenant(tenantId, selector);
    if (devices.length === 0) {
      const by = [
        selector.site !== null ? `at site ${selector.site}` : '',
        selector.tag !== null ? `tagged ${selector.tag}` : '',
      ];
      throw new BadUserInputError(
        `no device of the tenant is ${by.filter(Boolean).join(' and ')}`,
        selectorField,
      );
    }
    const values = valuesPerDevice(devices, chosen, input);
    const stages = stagesOf(devices.length, policy);
    const actor = actorOf(principal);
    const rollout = await this.#db.transaction().execute(async (trx) => {
      const selected = new Map(devices.map((device) => [device.id, device.name]));
      const busy = await this.#busy(trx, tenantId, selected);
      if (busy) {
        throw new ConflictError(
          `device ${selected.get(busy.deviceId)} is in rollout ${busy.rolloutId}, still running`,
          selectorField,
        );
      }
      const row = await trx
        .insertInto('rollout')
        .values({
          id: randomUUID(),
          tenant_id: tenantId,
          template_id: template.id,
          template_version: chosen.version,
          site: selector.site,
          tag: selector.tag,
          canary_size: policy.canarySize,
          batch_size: policy.batchSize,
          max_failures: policy.maxFailures,
          max_failure_percent: policy.maxFailurePercent,
          stage_timeout_seconds: policy.stageTimeoutSeconds,
          device_count: devices.length,
          stage_count: stages.at(-1)!,
          status: 'running',
          current_stage: 1,
          stage_deadline: sql<Date>`now() + make_interval(secs => ${policy.stageTimeoutSeconds})`,
          actor_kind: actor.kind,
          actor_id: actor.id,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      // In slices, to stay within the parameters a statement may have.
      for (let from = 0; from < devices.length; from += TARGETS_PER_INSERT) {
        await trx
          .insertInto('rollout_target')
          .values(
            devices.slice(from, from + TARGETS_PER_INSERT).map((device, index) => ({
              rollout_id: row.id,
              position: from + index,
              device_id: device.id,
              stage: stages[from + index]!,
              variables: JSON.stringify(values.get(device.id)),
            })),
          )
          .execute();
      }
      await this.#record(trx, row, 'rollout.started', actor, {
        deviceIds: devices.map((device) => device.id),
      });
      await this.#queueStage(trx, row, 1, actor);
      return row;
    });
    this.#onEvent();
    return rollout;
  }

  /**
   * Cancels a running rollout: its jobs not yet running are canceled at once, a running one
   * makes no change after this and ends canceled with its try.
   */
  async cancel(id: string, principal: Principal): Promise<RolloutRow> {
    const visible = await this.#writable(id, principal);
    const canceled = await this.#db.transaction().execute(async (trx) => {
      const rollout = await locked(trx, visible.id);
      if (rollout.status !== 'running')
        throw new BadUserInputError(`The rollout is ${rollout.status} already`, 'id');
      await this.#jobs.cancelAllIn(trx, rollout.id, CANCELED);
      return this.#end(trx, rollout, 'canceled', 'Canceled', 'rollout.canceled', actorOf(principal));
    });
    this.#onEvent();
    return canceled;
  }

  /**
   * Resumes a halted rollout once the cause is fixed: the failed and canceled jobs of the stage
   * it halted in are queued again, the stage gets a new deadline, and the rollout goes on from
   * there as before (failures of earlier stages still count).
   */
  async resume(id: string, principal: Principal): Promise<RolloutRow> {
    const visible = await this.#writable(id, principal);
    const resumed = await this.#db.transaction().execute(async (trx) => {
      const rollout = await locked(trx, visible.id);
      if (rollout.status !== 'halted') {
        throw new BadUserInputError(
          `Only a halted rollout can be resumed; this one is ${rollout.status}`,
          'id',
        );
      }
      const targets = await trx
        .selectFrom('rollout_target')
        .select('device_id')
        .where('rollout_id', '=', rollout.id)
        .execute();
      const busy = await this.#busy(trx, rollout.tenant_id, new Set(targets.map((t) => t.device_id)));
      if (busy) {
        const [device] = await this.#devices.getMany([busy.deviceId]);
        throw new ConflictError(
          `device ${device?.name ?? busy.deviceId} is in rollout ${busy.rolloutId}, still running`,
          'id',
        );
      }
      const actor = actorOf(principal);
      const requeued = await this.#jobs.requeueIn(
        trx,
        { id: rollout.id, stage: rollout.current_stage },
        actor,
      );
      const row = await trx
        .updateTable('rollout')
        .set({
          status: 'running',
          reason: null,
          finished_at: null,
          stage_deadline: sql<Date>`now() + make_interval(secs => ${rollout.stage_timeout_seconds})`,
          updated_at: sql<Date>`now()`,
        })
        .where('id', '=', rollout.id)
        .returningAll()
        .executeTakeFirstOrThrow();
      await this.#record(trx, row, 'rollout.resumed', actor, {
        requeuedJobIds: requeued.map((job) => job.id),
      });
      return row;
    });
    this.#onEvent();
    return resumed;
  }

  /** Running rollouts, the longest untouched first: those the worker looks at. */
  async running(limit: number): Promise<string[]> {
    const rows = await this.#db
      .selectFrom('rollout')
      .select('id')
      .where('status', '=', 'running')
      .orderBy('updated_at')
      .limit(limit)
      .execute();
    return rows.map((row) => row.id);
  }

  /**
   * Takes a rollout one step on, if another process is not doing so this moment: cancels the
   * jobs of a stage past its deadline, then halts, waits, queues the next stage or finishes.
   * Answers whether anything changed.
   */
  async advance(id: string): Promise<boolean> {
    const changed = await this.#db.transaction().execute(async (trx) => {
      const locked = await trx
        .selectFrom('rollout')
        .selectAll()
        .select(sql<boolean>`stage_deadline < now()`.as('overdue'))
        .where('id', '=', id)
        .where('status', '=', 'running')
        .forUpdate()
        .skipLocked()
        .executeTakeFirst();
      if (!locked) return false;
      const { overdue, ...rollout } = locked;
      const stage = rollout.current_stage;
      const expired = overdue
        ? await this.#jobs.cancelNotStartedIn(trx, { id: rollout.id, stage }, DEADLINE_PASSED)
        : 0;
      const jobs = await trx
        .selectFrom('provisioning_job')
        .select(['rollout_stage', 'status'])
        .select((eb) => eb.fn.countAll<string>().as('count'))
        .where('rollout_id', '=', rollout.id)
        .where('rollout_stage', '<=', stage)
        .groupBy(['rollout_stage', 'status'])
        .execute();
      let open = 0;
      let queuedSoFar = 0;
      let failures = 0;
      for (const group of jobs) {
        const count = Number(group.count);
        queuedSoFar += count;
        if (group.status === 'failed' || group.status === 'canceled') failures += count;
        if (group.rollout_stage === stage && !FINISHED.includes(group.status)) open += count;
      }
      const decision = decide(policyOf(rollout), {
        stage,
        stageCount: rollout.stage_count,
        open,
        queuedSoFar,
        failures,
      });
      const system: EventActor = { kind: 'system', id: null };
      switch (decision.kind) {
        case 'wait':
          if (expired > 0) await this.#touch(trx, rollout.id);
          return expired > 0;
        case 'halt':
          await this.#jobs.cancelNotStartedIn(trx, { id: rollout.id, stage }, HALTED);
          await this.#end(trx, rollout, 'halted', decision.reason, 'rollout.halted', system);
          return true;
        case 'next-stage': {
          const next = await trx
            .updateTable('rollout')
            .set({
              current_stage: stage + 1,
              stage_deadline: sql<Date>`now() + make_interval(secs => ${rollout.stage_timeout_seconds})`,
              updated_at: sql<Date>`now()`,
            })
            .where('id', '=', rollout.id)
            .returningAll()
            .executeTakeFirstOrThrow();
          // Queued on behalf of whoever started the rollout.
          const actor = { kind: rollout.actor_kind, id: rollout.actor_id } as EventActor;
          await this.#queueStage(trx, next, stage + 1, actor);
          return true;
        }
        case 'finish':
          await this.#end(trx, rollout, decision.status, null, `rollout.${decision.status}`, system);
          return true;
      }
    });
    if (changed) this.#onEvent();
    return changed;
  }

  /** A rollout the principal may read; another tenant's answers as an unknown one. */
  async get(id: string, principal: Principal): Promise<RolloutRow | undefined> {
    const row = await this.#row(id);
    return row && hasScopeIn(principal, 'devices:read', row.tenant_id) ? row : undefined;
  }

  /** A rollout by id, for objects whose access was checked already (a job's rollout). */
  byId(id: string): Promise<RolloutRow | undefined> {
    return this.#row(id);
  }

  /** A tenant's last 100 rollouts, newest first. */
  async listByTenant(tenantId: string): Promise<RolloutRow[]> {
    if (!isUuid(tenantId)) return [];
    return this.#db
      .selectFrom('rollout')
      .selectAll()
      .where('tenant_id', '=', tenantId.toLowerCase())
      .orderBy('created_at', 'desc')
      .limit(100)
      .execute();
  }

  /** Each stage's devices (in order) and counts, from the targets and their jobs. */
  async stages(rolloutId: string): Promise<StageProgressView[]> {
    return stagesFrom(await this.#progressRows(this.#db, rolloutId));
  }

  /** A rollout's jobs, by stage and the devices' order. */
  async jobs(rolloutId: string): Promise<JobRow[]> {
    return this.#db
      .selectFrom('provisioning_job as j')
      .innerJoin('rollout_target as t', (join) =>
        join.onRef('t.rollout_id', '=', 'j.rollout_id').onRef('t.device_id', '=', 'j.device_id'),
      )
      .selectAll('j')
      .where('j.rollout_id', '=', rolloutId)
      .orderBy('t.position')
      .execute();
  }

  /**
   * A device of these in another running rollout of the tenant. Rollouts of a tenant start and
   * resume one after the other (the tenant's row of the device count is locked), so two started
   * at once over the same device see each other.
   */
  async #busy(
    trx: Transaction<DevicesDatabase>,
    tenantId: string,
    deviceIds: ReadonlySet<string> | ReadonlyMap<string, unknown>,
  ): Promise<{ rolloutId: string; deviceId: string } | undefined> {
    await trx
      .selectFrom('tenant_devices')
      .select('tenant_id')
      .where('tenant_id', '=', tenantId)
      .forUpdate()
      .execute();
    const target = (
      await trx
        .selectFrom('rollout_target as t')
        .innerJoin('rollout as r', 'r.id', 't.rollout_id')
        .select(['r.id', 't.device_id'])
        .where('r.tenant_id', '=', tenantId)
        .where('r.status', '=', 'running')
        .execute()
    ).find((candidate) => deviceIds.has(candidate.device_id));
    return target && { rolloutId: target.id, deviceId: target.device_id };
  }

  async #queueStage(
    trx: Transaction<DevicesDatabase>,
    rollout: RolloutRow,
    stage: number,
    actor: EventActor,
  ): Promise<void> {
    const targets = await trx
      .selectFrom('rollout_target')
      .selectAll()
      .where('rollout_id', '=', rollout.id)
      .where('stage', '=', stage)
      .orderBy('position')
      .execute();
    const jobs = await this.#jobs.queueIn(
      trx,
      targets.map((target) => ({
        tenantId: rollout.tenant_id,
        deviceId: target.device_id,
        templateId: rollout.template_id,
        version: rollout.template_version,
        variables: target.variables,
        rollout: { id: rollout.id, stage },
      })),
      actor,
    );
    await this.#record(trx, rollout, 'rollout.stage-started', actor, {
      stage,
      deviceIds: targets.map((target) => target.device_id),
      jobIds: jobs.map((job) => job.id),
    });
  }

  async #end(
    trx: Transaction<DevicesDatabase>,
    rollout: RolloutRow,
    status: RolloutRow['status'],
    reason: string | null,
    type: string,
    actor: EventActor,
  ): Promise<RolloutRow> {
    const ended = await trx
      .updateTable('rollout')
      .set({ status, reason, finished_at: sql<Date>`now()`, updated_at: sql<Date>`now()` })
      .where('id', '=', rollout.id)
      .returningAll()
      .executeTakeFirstOrThrow();
    await this.#record(trx, ended, type, actor, {});
    return ended;
  }

  async #touch(trx: Transaction<DevicesDatabase>, id: string): Promise<void> {
    await trx
      .updateTable('rollout')
      .set({ updated_at: sql<Date>`now()` })
      .where('id', '=', id)
      .execute();
  }

  async #progressRows(db: Kysely<DevicesDatabase>, rolloutId: string) {
    return db
      .selectFrom('rollout_target as t')
      .leftJoin('provisioning_job as j', (join) =>
        join.onRef('j.rollout_id', '=', 't.rollout_id').onRef('j.device_id', '=', 't.device_id'),
      )
      .select(['t.stage', 't.device_id', 'j.status', 'j.created_at'])
      .where('t.rollout_id', '=', rolloutId)
      .orderBy('t.position')
      .execute();
  }

  /** A rollout the principal may change; another tenant's answers as an unknown one. */
  async #writable(id: string, principal: Principal): Promise<RolloutRow> {
    const rollout = await this.#row(id);
    if (!rollout || !hasScopeIn(principal, 'devices:write', rollout.tenant_id))
      throw new NotFoundError('Rollout');
    return rollout;
  }

  async #row(id: string): Promise<RolloutRow | undefined> {
    if (!isUuid(id)) return undefined;
    return this.#db.selectFrom('rollout').selectAll().where('id', '=', id.toLowerCase()).executeTakeFirst();
  }

  /** The rollout's event: its state, policy and counts, with ids and no values. */
  async #record(
    trx: Transaction<DevicesDatabase>,
    rollout: RolloutRow,
    type: string,
    actor: EventActor,
    extra: Record<string, unknown>,
  ): Promise<void> {
    const counts = totalOf(stagesFrom(await this.#progressRows(trx, rollout.id)));
    await recordEvent(outboxTablesOf(trx), {
      aggregateType: 'rollout',
      aggregateId: rollout.id,
      type,
      tenantId: rollout.tenant_id,
      actor,
      payload: {
        id: rollout.id,
        tenantId: rollout.tenant_id,
        templateId: rollout.template_id,
        templateVersion: rollout.template_version,
        site: rollout.site,
        tag: rollout.tag,
        policy: policyOf(rollout),
        status: rollout.status,
        stage: rollout.current_stage,
        stageCount: rollout.stage_count,
        reason: rollout.reason,
        counts,
        ...extra,
      },
    });
  }
}

function stagesFrom(
  rows: readonly { stage: number; device_id: string; status: JobStatus | null; created_at: Date | null }[],
): StageProgressView[] {
  const stages = new Map<number, StageProgressView>();
  for (const row of rows) {
    let stage = stages.get(row.stage);
    if (!stage) {
      stage = { number: row.stage, deviceIds: [], counts: emptyCounts(), queuedAt: null };
      stages.set(row.stage, stage);
    }
    stage.deviceIds.push(row.device_id);
    stage.counts.devices++;
    if (row.status === null) stage.counts.notQueued++;
    else stage.counts[row.status]++;
    if (row.created_at && (!stage.queuedAt || row.created_at < stage.queuedAt))
      stage.queuedAt = row.created_at;
  }
  return [...stages.values()].sort((a, b) => a.number - b.number);
}

/** The counts of every stage together. */
export function totalOf(stages: readonly StageProgressView[]): RolloutCounts {
  const total = emptyCounts();
  for (const stage of stages)
    for (const key of Object.keys(total) as (keyof RolloutCounts)[]) total[key] += stage.counts[key];
  return total;
}

/** A rollout read under its row lock, for a change that must see its latest state. */
function locked(trx: Transaction<DevicesDatabase>, id: string): Promise<RolloutRow> {
  return trx.selectFrom('rollout').selectAll().where('id', '=', id).forUpdate().executeTakeFirstOrThrow();
}
