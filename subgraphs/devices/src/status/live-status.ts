import { BadUserInputError, hasScopeIn, NotFoundError, type Principal } from '@fleet/service-kit';
import { isUuid } from '../registry/device-input.js';
import type { DeviceRegistry } from '../registry/device-registry.js';
import type { JobProgress } from '../provisioning/job-worker.js';
import type { JobStore } from '../provisioning/job-store.js';
import type { EventBus } from './event-bus/event-bus.js';
import {
  eventStream,
  jobChannel,
  statusChannel,
  type JobProgressEvent,
  type StatusEvent,
} from './status-events.js';
import type { DeviceStatus } from './status-tracker.js';

/**
 * The subscriptions' side of live status: which tenant's channel a subscriber may follow, and
 * the streams of statuses and job steps it receives. Every subscription is checked against the
 * tenant when it starts, listens to that tenant's channel only, and each event is checked again
 * by the schema's rules as it is resolved.
 */
export class LiveStatus {
  readonly #bus: EventBus;
  readonly #devices: DeviceRegistry;
  readonly #jobs: JobStore;
  readonly #buffer: number;

  constructor(parts: { bus: EventBus; devices: DeviceRegistry; jobs: JobStore; buffer: number }) {
    this.#bus = parts.bus;
    this.#devices = parts.devices;
    this.#jobs = parts.jobs;
    this.#buffer = parts.buffer;
  }

  async statuses(
    args: { deviceId?: string | null; tenantId?: string | null },
    principal: Principal,
  ): Promise<AsyncIterableIterator<DeviceStatus>> {
    const { tenantId, deviceId } = await this.#scope(args, principal);
    return eventStream<StatusEvent, DeviceStatus>(
      this.#bus,
      statusChannel(tenantId),
      ({ status }) =>
        status.tenantId === tenantId && (!deviceId || status.deviceId === deviceId) ? status : undefined,
      this.#buffer,
    );
  }

  async jobSteps(
    args: { jobId?: string | null; deviceId?: string | null; tenantId?: string | null },
    principal: Principal,
  ): Promise<AsyncIterableIterator<JobProgressEvent>> {
    const given = [args.jobId, args.deviceId, args.tenantId].filter((value) => value != null);
    if (given.length !== 1)
      throw new BadUserInputError('Give exactly one of jobId, deviceId and tenantId', 'jobId');
    let scope: { tenantId: string; deviceId?: string; jobId?: string };
    if (args.jobId != null) {
      const job = await this.#jobs.get(args.jobId, principal);
      if (!job) throw new NotFoundError('Job');
      scope = { tenantId: job.tenant_id, jobId: job.id };
    } else {
      scope = await this.#scope(args, principal);
    }
    return eventStream<JobProgressEvent, JobProgressEvent>(
      this.#bus,
      jobChannel(scope.tenantId),
      (event) =>
        event.tenantId === scope.tenantId &&
        (!scope.deviceId || event.deviceId === scope.deviceId) &&
        (!scope.jobId || event.jobId === scope.jobId)
          ? event
          : undefined,
      this.#buffer,
    );
  }

  /** Publishes a job's step to its tenant's subscribers, wherever they are connected. */
  publishJobProgress(progress: JobProgress): void {
    const event: JobProgressEvent = {
      jobId: progress.job.id,
      deviceId: progress.job.device_id,
      tenantId: progress.job.tenant_id,
      status: progress.status,
      attempt: progress.job.attempts,
      changesPlanned: progress.changesPlanned,
      changesDone: progress.changesDone,
      message: progress.message,
      at: new Date().toISOString(),
    };
    this.#bus.publish(jobChannel(event.tenantId), JSON.stringify(event));
  }

  /** The tenant (and device) a subscription follows, once the principal may read it. */
  async #scope(
    args: { deviceId?: string | null; tenantId?: string | null },
    principal: Principal,
  ): Promise<{ tenantId: string; deviceId?: string }> {
    if ((args.deviceId == null) === (args.tenantId == null)) {
      throw new BadUserInputError('Give exactly one of deviceId and tenantId', 'deviceId');
    }
    if (args.deviceId != null) {
      const device = await this.#devices.get(args.deviceId);
      // Another tenant's device answers as an unknown one.
      if (!device || !hasScopeIn(principal, 'devices:read', device.tenant_id))
        throw new NotFoundError('Device');
      return { tenantId: device.tenant_id, deviceId: device.id };
    }
    const tenantId = args.tenantId!;
    if (!isUuid(tenantId) || !hasScopeIn(principal, 'devices:read', tenantId.toLowerCase())) {
      throw new NotFoundError('Tenant');
    }
    return { tenantId: tenantId.toLowerCase() };
  }
}
