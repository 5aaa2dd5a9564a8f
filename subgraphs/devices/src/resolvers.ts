import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper/index.js';
import { Kind, type GraphQLResolveInfo } from 'graphql';
import { BadUserInputError, hasScopeIn, jsonScalar, type SignedRequest } from '@fleet/service-kit';
import type { BackupRow } from './backups/backup-store.js';
import type { Backups } from './backups/backups.js';
import type { DriftChecks } from './drift/drift-checks.js';
import type { DriftRow } from './drift/drift-store.js';
import type { CreateDeviceInput, UpdateDeviceInput } from './registry/device-input.js';
import type { CreateEnrollmentInput, Enrollments } from './enrollment/enrollments.js';
import type { DeviceRegistry, DeviceRow } from './registry/device-registry.js';
import type { JobRow, JobStore } from './provisioning/job-store.js';
import type { PlannedChange } from './provisioning/plan.js';
import type { Provisioning } from './provisioning/provisioning.js';
import {
  policyOf,
  totalOf,
  type ApplyBulkInput,
  type RolloutRow,
  type RolloutStore,
} from './rollouts/rollout-store.js';
import type { TemplateRow, TemplateStore } from './templates/template-store.js';
import type { JobProgressEvent } from './status/status-events.js';
import { statusResolvers, type StatusContext } from './status/status-resolvers.js';

export interface DevicesContext extends StatusContext {
  devices: DeviceRegistry;
  enrollments: Enrollments;
  templates: TemplateStore;
  provisioning: Provisioning;
  jobs: JobStore;
  rollouts: RolloutStore;
  backups: Backups;
  drift: DriftChecks;
  request: SignedRequest;
}

const BACKUP_REASONS = { 'after-apply': 'AFTER_APPLY', scheduled: 'SCHEDULED', manual: 'MANUAL' } as const;

/** A snapshot as the API shows it; its content is read only when asked for. */
function backupToGraphQL(backup: BackupRow) {
  return {
    id: backup.id,
    device: { id: backup.device_id },
    tenantId: backup.tenant_id,
    reason: BACKUP_REASONS[backup.reason],
    digest: backup.digest,
    jobId: backup.job_id,
    takenAt: backup.taken_at.toISOString(),
    /** For the content, read only if asked for; not a field of the schema. */
    row: backup,
  };
}

/** A planned change with every field the schema names (null where the action has none). */
function changeToGraphQL(change: PlannedChange) {
  return { itemId: null, properties: null, before: null, placeBefore: null, ...change };
}

/** A device's drift; a device never provisioned has none to tell (UNKNOWN). */
function driftToGraphQL(tenantId: string, drift: DriftRow | undefined) {
  if (!drift) {
    return {
      tenantId,
      status: 'UNKNOWN',
      template: null,
      version: null,
      checkedAt: null,
      detectedAt: null,
      changes: [],
    };
  }
  return {
    tenantId,
    status: drift.status === 'drifted' ? 'DRIFTED' : 'IN_SYNC',
    template: { id: drift.template_id },
    version: drift.template_version,
    checkedAt: drift.checked_at.toISOString(),
    detectedAt: drift.detected_at?.toISOString() ?? null,
    changes: (drift.changes as PlannedChange[]).map(changeToGraphQL),
  };
}

function jobToGraphQL(job: JobRow) {
  return {
    id: job.id,
    device: { id: job.device_id },
    template: { id: job.template_id },
    tenantId: job.tenant_id,
    version: job.template_version,
    status: job.status,
    attempts: job.attempts,
    summary: job.summary,
    error: job.error,
    createdAt: job.created_at.toISOString(),
    startedAt: job.started_at?.toISOString() ?? null,
    finishedAt: job.finished_at?.toISOString() ?? null,
    rolloutId: job.rollout_id,
    rolloutStage: job.rollout_stage,
  };
}

function rolloutToGraphQL(rollout: RolloutRow) {
  return {
    id: rollout.id,
    tenant: { id: rollout.tenant_id },
    template: { id: rollout.template_id },
    version: rollout.template_version,
    site: rollout.site,
    tag: rollout.tag,
    status: rollout.status,
    policy: policyOf(rollout),
    currentStage: rollout.current_stage,
    stageCount: rollout.stage_count,
    stageDeadline: rollout.stage_deadline.toISOString(),
    reason: rollout.reason,
    createdAt: rollout.created_at.toISOString(),
    updatedAt: rollout.updated_at.toISOString(),
    finishedAt: rollout.finished_at?.toISOString() ?? null,
  };
}

function templateToGraphQL(template: TemplateRow) {
  return {
    id: template.id,
    name: template.name,
    tenant: { id: template.tenantId },
    createdAt: template.createdAt.toISOString(),
  };
}

const KEY_FIELDS = new Set(['id', '__typename']);

/** Whether the field's selection names only these fields (no fragments). */
function selectsOnly(info: GraphQLResolveInfo, names: ReadonlySet<string>): boolean {
  return info.fieldNodes.every((node) =>
    (node.selectionSet?.selections ?? []).every(
      (selection) => selection.kind === Kind.FIELD && names.has(selection.name.value),
    ),
  );
}

const TLS_MODES = { verify: 'VERIFY', pinned: 'PINNED', 'anonymous-dh': 'ANONYMOUS_DH' } as const;

/** A device as the API shows it: never its credentials. */
function toGraphQL(device: DeviceRow) {
  return {
    id: device.id,
    name: device.name,
    host: device.host,
    port: device.port,
    tenant: { id: device.tenant_id },
    site: device.site,
    tags: device.tags,
    tls: device.tls_mode ? { mode: TLS_MODES[device.tls_mode], fingerprint: device.tls_fingerprint } : null,
    identity: device.identity,
    routerOsVersion: device.router_version,
    board: device.board,
    createdAt: device.created_at.toISOString(),
    updatedAt: device.updated_at.toISOString(),
  };
}

export const resolvers: GraphQLResolverMap<DevicesContext> = {
  JSON: jsonScalar,
  Subscription: statusResolvers.Subscription,
  DeviceStatus: {
    device: async (
      status: { deviceId: string; tenantId: string },
      _: unknown,
      { devices }: DevicesContext,
      info: GraphQLResolveInfo,
    ) => {
      // A subscriber asking for the key only (as the gateway's plans do) costs no read per event.
      if (selectsOnly(info, KEY_FIELDS)) return { id: status.deviceId, tenant: { id: status.tenantId } };
      const device = await devices.get(status.deviceId);
      return device ? toGraphQL(device) : null;
    },
  },
  JobProgress: {
    job: async (event: JobProgressEvent, _: unknown, { jobs, request }: DevicesContext) => {
      const job = await jobs.get(event.jobId, request.principal);
      return job ? jobToGraphQL(job) : null;
    },
  },
  Query: {
    templates: async (_: unknown, args: { tenantId: string }, { templates }: DevicesContext) =>
      (await templates.listByTenant(args.tenantId)).map(templateToGraphQL),
    template: async (_: unknown, args: { id: string }, { templates, request }: DevicesContext) => {
      const template = await templates.get(args.id, request.principal);
      return template ? templateToGraphQL(template) : null;
    },
    job: async (_: unknown, args: { id: string }, { jobs, request }: DevicesContext) => {
      const job = await jobs.get(args.id, request.principal);
      return job ? jobToGraphQL(job) : null;
    },
    jobs: async (_: unknown, args: { deviceId: string }, { devices, jobs, request }: DevicesContext) => {
      const device = await devices.get(args.deviceId);
      if (!device || !hasScopeIn(request.principal, 'devices:read', device.tenant_id)) return [];
      return (await jobs.listByDevice(device.id)).map(jobToGraphQL);
    },
    planProvisioning: async (
      _: unknown,
      args: { deviceId: string; templateId: string; version?: number | null; variables?: unknown },
      { provisioning, request }: DevicesContext,
    ) => {
      const plan = await provisioning.plan(args, request.principal);
      return {
        device: toGraphQL(plan.device),
        template: templateToGraphQL(plan.template),
        version: plan.version,
        changes: plan.changes.map(changeToGraphQL),
        empty: plan.changes.length === 0,
      };
    },
    renderTemplate: async (
      _: unknown,
      args: { id: string; version?: number | null; variables?: unknown },
      { templates, request }: DevicesContext,
    ) =>
      (await templates.render(args.id, args.version, args.variables, request.principal)).desired.map(
        (desired) => ({
          name: desired.menu.name,
          path: desired.menu.path,
          items: desired.items,
        }),
      ),
    rollout: async (_: unknown, args: { id: string }, { rollouts, request }: DevicesContext) => {
      const rollout = await rollouts.get(args.id, request.principal);
      return rollout ? rolloutToGraphQL(rollout) : null;
    },
    rollouts: async (_: unknown, args: { tenantId: string }, { rollouts }: DevicesContext) =>
      (await rollouts.listByTenant(args.tenantId)).map(rolloutToGraphQL),
    // Another tenant's device answers as an unknown one does: its existence is not told.
    device: async (_: unknown, args: { id: string }, { devices, request }: DevicesContext) => {
      const device = await devices.get(args.id);
      if (!device || !hasScopeIn(request.principal, 'devices:read', device.tenant_id)) return null;
      return toGraphQL(device);
    },
    devices: async (
      _: unknown,
      args: { tenantId: string; site?: string | null; tag?: string | null },
      { devices }: DevicesContext,
    ) => (await devices.listByTenant(args.tenantId, { site: args.site, tag: args.tag })).map(toGraphQL),
    // Another tenant's backup answers as an unknown one.
    backup: async (_: unknown, args: { id: string }, { backups, request }: DevicesContext) => {
      const backup = await backups.get(args.id, request.principal);
      return backup ? backupToGraphQL(backup) : null;
    },
    backupDiff: async (
      _: unknown,
      args: { fromId: string; toId: string },
      { backups, request }: DevicesContext,
    ) => {
      const diff = await backups.diff(args.fromId, args.toId, request.principal);
      return {
        from: backupToGraphQL(diff.from),
        to: backupToGraphQL(diff.to),
        empty: diff.menus.length === 0,
        menus: diff.menus,
      };
    },
  },
  Mutation: {
    backupDevice: async (_: unknown, args: { id: string }, { backups, request }: DevicesContext) =>
      backupToGraphQL(await backups.backupDevice(args.id, request.principal)),
    checkDrift: async (_: unknown, args: { deviceId: string }, { drift, request }: DevicesContext) => {
      const checked = await drift.checkNow(args.deviceId, request.principal);
      return driftToGraphQL(checked.tenantId, checked.drift);
    },
    createDevice: async (
      _: unknown,
      args: { input: CreateDeviceInput },
      { devices, request }: DevicesContext,
    ) => toGraphQL(await devices.create(args.input, request.principal)),
    updateDevice: async (
      _: unknown,
      args: { id: string; input: UpdateDeviceInput },
      { devices, request }: DevicesContext,
    ) => toGraphQL(await devices.update(args.id, args.input, request.principal)),
    rotateDeviceCredentials: async (
      _: unknown,
      args: { id: string; username: string; password: string },
      { devices, request }: DevicesContext,
    ) => toGraphQL(await devices.rotateCredentials(args.id, args, request.principal)),
    removeDevice: (_: unknown, args: { id: string }, { devices, request }: DevicesContext) =>
      devices.remove(args.id, request.principal),
    applyProvisioning: async (
      _: unknown,
      args: { deviceId: string; templateId: string; version?: number | null; variables?: unknown },
      { jobs, request }: DevicesContext,
    ) => jobToGraphQL(await jobs.enqueue(args, request.principal)),
    applyProvisioningBulk: async (
      _: unknown,
      args: { input: ApplyBulkInput },
      { rollouts, request }: DevicesContext,
    ) => rolloutToGraphQL(await rollouts.create(args.input, request.principal)),
    resumeRollout: async (_: unknown, args: { id: string }, { rollouts, request }: DevicesContext) =>
      rolloutToGraphQL(await rollouts.resume(args.id, request.principal)),
    cancelRollout: async (_: unknown, args: { id: string }, { rollouts, request }: DevicesContext) =>
      rolloutToGraphQL(await rollouts.cancel(args.id, request.principal)),
    retryJob: async (_: unknown, args: { id: string }, { jobs, request }: DevicesContext) =>
      jobToGraphQL(await jobs.retry(args.id, request.principal)),
    cancelJob: async (_: unknown, args: { id: string }, { jobs, request }: DevicesContext) =>
      jobToGraphQL(await jobs.cancel(args.id, request.principal)),
    createTemplate: async (
      _: unknown,
      args: { input: { tenantId: string; name: string; spec: unknown; variables?: unknown } },
      { templates, request }: DevicesContext,
    ) => templateToGraphQL(await templates.create(args.input, request.principal)),
    updateTemplate: async (
      _: unknown,
      args: { id: string; spec: unknown; variables?: unknown },
      { templates, request }: DevicesContext,
    ) => templateToGraphQL(await templates.update(args.id, args, request.principal)),
    createEnrollment: async (
      _: unknown,
      args: { input: CreateEnrollmentInput },
      { enrollments, request }: DevicesContext,
    ) => {
      const created = await enrollments.create(args.input, request.principal);
      return { ...created, expiresAt: created.expiresAt.toISOString() };
    },
  },
  ProvisioningJob: {
    device: async (job: { device: { id: string } }, _: unknown, { devices }: DevicesContext) => {
      const device = await devices.get(job.device.id);
      return device ? toGraphQL(device) : null;
    },
    template: async (
      job: { template: { id: string }; tenantId: string },
      _: unknown,
      { templates }: DevicesContext,
    ) => {
      const template = await templates.byId(job.template.id);
      return template ? templateToGraphQL(template) : null;
    },
    faults: async (job: { id: string }, _: unknown, { jobs }: DevicesContext) =>
      (await jobs.faults(job.id)).map((fault) => ({
        attempt: fault.attempt,
        message: fault.message,
        changesDone: fault.changes_done,
        occurredAt: fault.occurred_at.toISOString(),
      })),
    rollout: async (job: { rolloutId: string | null }, _: unknown, { rollouts }: DevicesContext) => {
      const rollout = job.rolloutId ? await rollouts.byId(job.rolloutId) : undefined;
      return rollout ? rolloutToGraphQL(rollout) : null;
    },
  },
  Rollout: {
    template: async (rollout: { template: { id: string } }, _: unknown, { templates }: DevicesContext) => {
      const template = await templates.byId(rollout.template.id);
      return template ? templateToGraphQL(template) : null;
    },
    stages: async (rollout: { id: string }, _: unknown, { rollouts, devices }: DevicesContext) =>
      Promise.all(
        (await rollouts.stages(rollout.id)).map(async (stage) => ({
          number: stage.number,
          devices: (await devices.getMany(stage.deviceIds)).map(toGraphQL),
          counts: stage.counts,
          queuedAt: stage.queuedAt?.toISOString() ?? null,
        })),
      ),
    counts: async (rollout: { id: string }, _: unknown, { rollouts }: DevicesContext) =>
      totalOf(await rollouts.stages(rollout.id)),
    jobs: async (rollout: { id: string }, _: unknown, { rollouts }: DevicesContext) =>
      (await rollouts.jobs(rollout.id)).map(jobToGraphQL),
  },
  Template: {
    versions: async (template: { id: string }, _: unknown, { templates }: DevicesContext) =>
      (await templates.versions(template.id)).map((version) => ({
        ...version,
        createdAt: version.createdAt.toISOString(),
      })),
    latestVersion: async (template: { id: string }, _: unknown, { templates }: DevicesContext) =>
      (await templates.versions(template.id)).at(-1)?.version ?? 0,
  },
  Device: {
    ...statusResolvers.Device,
    __resolveReference: async (reference: { id: string }, { devices }: DevicesContext) => {
      const device = await devices.get(reference.id);
      return device ? toGraphQL(device) : null;
    },
    backups: async (device: { id: string }, args: { limit?: number | null }, { backups }: DevicesContext) => {
      const limit = args.limit ?? 20;
      if (!Number.isInteger(limit) || limit < 1 || limit > 100)
        throw new BadUserInputError('limit must be 1 to 100', 'limit');
      return (await backups.listByDevice(device.id, limit)).map(backupToGraphQL);
    },
    drift: async (device: { id: string; tenant: { id: string } }, _: unknown, { drift }: DevicesContext) =>
      driftToGraphQL(device.tenant.id, await drift.state(device.id)),
  },
  DeviceBackup: {
    device: async (backup: { device: { id: string } }, _: unknown, { devices }: DevicesContext) => {
      const device = await devices.get(backup.device.id);
      return device ? toGraphQL(device) : null;
    },
    menus: async (backup: { row: BackupRow }, _: unknown, { backups }: DevicesContext) =>
      (await backups.content(backup.row)).menus,
  },
  DeviceDrift: {
    template: async (
      drift: { template: { id: string } | null },
      _: unknown,
      { templates }: DevicesContext,
    ) => {
      if (!drift.template) return null;
      const template = await templates.byId(drift.template.id);
      return template ? templateToGraphQL(template) : null;
    },
  },
  Tenant: {
    __resolveReference: (reference: { id: string }) => ({ id: reference.id }),
    devices: async (tenant: { id: string }, _: unknown, { devices }: DevicesContext) =>
      (await devices.listByTenant(tenant.id)).map(toGraphQL),
  },
};
