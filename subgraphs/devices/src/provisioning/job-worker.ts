import { randomUUID } from 'node:crypto';
import {
  RouterConnectionError,
  RouterLoginError,
  type RouterClient,
  RouterTimeoutError,
  RouterTrapError,
  RouterUnavailableError,
} from '@fleet/router-api';
import type { Logger } from '@fleet/service-kit';
import type { DeviceRegistry, DeviceRow } from '../registry/device-registry.js';
import type { TemplateStore } from '../templates/template-store.js';
import { executeChange } from './execute-changes.js';
import type { JobStatus } from '../database/schema.js';
import { summarize, type JobRow, type JobStore } from './job-store.js';
import { planChanges, type PlannedChange } from './plan.js';
import { readLiveState } from './provisioning.js';
import { MANAGEMENT_MENUS, RevertTimer } from './revert-timer.js';

export interface JobWorkerOptions {
  jobs: JobStore;
  devices: DeviceRegistry;
  templates: TemplateStore;
  logger: Logger;
  /** Jobs this process runs at once. */
  concurrency: number;
  /** Jobs of one tenant running at once, across every process. */
  perTenant: number;
  /** Jobs running at once across every process. */
  total: number;
  pollMs: number;
  leaseMs: number;
  /** First wait before a retry; it doubles with each attempt, up to `maxBackoffMs`. */
  backoffMs: number;
  maxBackoffMs: number;
  /** Attempts of a job that keeps failing on a router that is up, before it fails. */
  maxAttempts: number;
  /** Safe apply: how long after a change to management access the router undoes it, unconfirmed. */
  revertAfterSeconds: number;
  /** Called once a job succeeded, with the job's connection (backups and drift follow jobs). */
  onSucceeded?: (job: JobRow, client: RouterClient) => Promise<void>;
  /** Told of each step of a job (planned, each change, its outcome), for live progress. */
  onProgress?: (progress: JobProgress) => void;
}

/** A step of a job, as the worker tells it. */
export interface JobProgress {
  job: JobRow;
  status: JobStatus;
  changesPlanned: number | null;
  changesDone: number;
  message: string;
}

/** Why a job that failed a try is not tried again, though it could be: what it then ends with. */
const ROLLOUT_STOPPED = 'Not tried again: its rollout stopped';

/** Stopped before a change because the job was canceled or its lease lost. */
class Interrupted extends Error {}

/** The platform cannot reach the router after changing management access: the router reverts. */
class LostAccess extends Error {}

/**
 * Runs provisioning jobs: plan from the router's live state, make the changes one by one (the
 * job may be canceled between two), then read back and plan again, which must come out empty.
 * An unreachable router puts the job in `waiting` (it is tried again, with backoff, until it
 * can be reached or the job is canceled; a job canceled during a try ends canceled after it); a
 * router that refuses a change fails the job with the router's own message and the changes made
 * before it; a connection lost mid-apply is retried from the live state, unless its rollout
 * stopped meanwhile. Whatever killed a worker, the job resumes where the router stands.
 */
export class JobWorker {
  readonly #options: JobWorkerOptions;
  readonly #owner = `worker-${randomUUID()}`;
  readonly #running = new Set<Promise<void>>();
  #timer: NodeJS.Timeout | undefined;
  #stopping = false;

  constructor(options: JobWorkerOptions) {
    this.#options = options;
  }

  start(): void {
    this.#schedule(0);
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#timer);
    await Promise.allSettled([...this.#running]);
  }

  #schedule(delayMs: number): void {
    if (this.#stopping) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#poll(), delayMs);
  }

  async #poll(): Promise<void> {
    try {
      while (!this.#stopping && this.#running.size < this.#options.concurrency) {
        const job = await this.#options.jobs.claim(this.#owner, this.#options.leaseMs, {
          perTenant: this.#options.perTenant,
          total: this.#options.total,
        });
        if (!job) break;
        const run = this.#run(job).finally(() => {
          this.#running.delete(run);
          this.#schedule(0);
        });
        this.#running.add(run);
      }
    } catch (error) {
      this.#options.logger.error({ err: error }, 'could not take provisioning jobs');
    }
    this.#schedule(this.#options.pollMs);
  }

  async #run(job: JobRow): Promise<void> {
    const { jobs, devices, templates, logger } = this.#options;
    const log = logger.child({ jobId: job.id, deviceId: job.device_id, attempt: job.attempts });
    const done: PlannedChange[] = [];
    let planned: number | null = null;
    const lease = setInterval(() => {
      void jobs
        .renew(job.id, this.#owner, this.#options.leaseMs)
        .catch((error: unknown) => log.warn({ err: error }, 'could not renew the lease of a job'));
    }, this.#options.leaseMs / 3);
    try {
      const device = await devices.get(job.device_id);
      if (!device) {
        await jobs.finish(job, this.#owner, {
          status: 'failed',
          summary: {},
          error: 'The device was removed',
        });
        return;
      }
      const desired = await templates.renderVersion(job.template_id, job.template_version, job.variables);
      const client = await devices.clientFor(device);
      let revert: RevertTimer | undefined;
      try {
        const changes = planChanges(desired, await readLiveState(client, desired));
        planned = changes.length;
        await jobs.recordStarted(job, summarize(changes));
        this.#tell(job, 'running', planned, 0, `Planned ${planned} changes`);
        for (const change of changes) {
          await this.#goOn(job);
          const risky = MANAGEMENT_MENUS.has(change.menu);
          if (risky && !revert)
            revert = await RevertTimer.arm(client, job.id, this.#options.revertAfterSeconds);
          const addedId = await executeChange(client, change);
          done.push(change);
          if (risky) await revert!.record(change, addedId);
          this.#tell(job, 'running', planned, done.length, `${change.action} on ${change.menu}`);
        }
        const left = planChanges(desired, await readLiveState(client, desired));
        if (revert) await this.#confirmAccess(device, revert);
        if (left.length > 0) {
          const message = `After the changes the router still differs in ${left.length} places`;
          await jobs.recordFault(job, message, done);
          await jobs.finish(job, this.#owner, { status: 'failed', summary: summarize(done), error: message });
          this.#tell(job, 'failed', planned, done.length, message);
          return;
        }
        await jobs.finish(job, this.#owner, { status: 'succeeded', summary: summarize(done) });
        this.#tell(job, 'succeeded', planned, done.length, `Made ${done.length} changes`);
        log.info({ changes: done.length }, 'provisioning job succeeded');
        await this.#options
          .onSucceeded?.(job, client)
          .catch((error: unknown) => log.error({ err: error }, 'could not follow up a succeeded job'));
      } catch (error) {
        // A change to management access may be what cut the connection: the revert stays on the
        // router unless the platform can still get in (then the job fails or retries as it would).
        if (revert && !(error instanceof LostAccess)) await this.#confirmAccess(device, revert);
        throw error;
      } finally {
        await client.close();
      }
    } catch (error) {
      await this.#failed(job, error, done, planned).catch((failure: unknown) =>
        log.error({ err: failure }, 'could not record the outcome of a job'),
      );
    } finally {
      clearInterval(lease);
    }
  }

  /**
   * Before each change: the job is still this worker's and not canceled (asked in the database,
   * so that no change is made once a cancel is committed), its lease renewed on the way.
   */
  async #goOn(job: JobRow): Promise<void> {
    const { held, cancel } = await this.#options.jobs.renew(job.id, this.#owner, this.#options.leaseMs);
    if (!held) throw new Interrupted('lost');
    if (cancel) throw new Interrupted('cancel');
  }

  /** Reaches the router afresh, as the platform will next time, then calls the revert off. */
  async #confirmAccess(device: DeviceRow, revert: RevertTimer): Promise<void> {
    let probe: RouterClient | undefined;
    try {
      probe = await this.#options.devices.clientFor(device);
      await probe.print('/system/identity');
      await revert.confirm(probe);
    } catch {
      throw new LostAccess(
        `Lost access to the router after a change to its management access; it undoes the job's changes by itself within ${this.#options.revertAfterSeconds} s`,
      );
    } finally {
      await probe?.close();
    }
  }

  async #failed(
    job: JobRow,
    error: unknown,
    done: readonly PlannedChange[],
    planned: number | null,
  ): Promise<void> {
    const { jobs, logger } = this.#options;
    const summary = summarize(done);
    const canceled = async (reason?: string) => {
      if (await jobs.finish(job, this.#owner, { status: 'canceled', summary, error: reason }))
        this.#tell(job, 'canceled', planned, done.length, reason ?? 'Canceled');
    };
    if (error instanceof Interrupted) {
      if (error.message === 'cancel') await canceled();
      return; // A lost lease: the job is another worker's now.
    }
    const message = error instanceof Error ? error.message : String(error);
    const tell = (status: JobStatus) => this.#tell(job, status, planned, done.length, message);
    /** Put back for its next attempt, or ended canceled if it may not have one. */
    const retryLater = async (status: 'queued' | 'waiting', delayMs: number) => {
      const outcome = await jobs.reschedule(job, this.#owner, status, delayMs, message);
      if (outcome === 'rescheduled') tell(status);
      else await canceled(outcome === 'rollout-stopped' ? `${ROLLOUT_STOPPED}: ${message}` : undefined);
    };
    if (error instanceof LostAccess) {
      await jobs.recordFault(job, message, done);
      await jobs.finish(job, this.#owner, { status: 'failed', summary, error: message });
      tell('failed');
      return;
    }
    const backoff = Math.min(
      this.#options.backoffMs * 2 ** Math.max(0, job.attempts - 1),
      this.#options.maxBackoffMs,
    );
    if (done.length === 0 && isUnreachable(error)) {
      // Offline: wait for the device, however long, rather than fail.
      // Not if it was canceled during the try: it ends canceled now.
      await retryLater('waiting', backoff);
      return;
    }
    await jobs.recordFault(job, message, done);
    if (isTransient(error) && job.attempts < this.#options.maxAttempts) {
      await retryLater('queued', backoff);
      return;
    }
    logger.warn({ jobId: job.id, reason: message }, 'provisioning job failed');
    await jobs.finish(job, this.#owner, { status: 'failed', summary, error: message });
    tell('failed');
  }

  #tell(job: JobRow, status: JobStatus, planned: number | null, done: number, message: string): void {
    this.#options.onProgress?.({ job, status, changesPlanned: planned, changesDone: done, message });
  }
}

function isUnreachable(error: unknown): boolean {
  return (
    error instanceof RouterUnavailableError ||
    error instanceof RouterConnectionError ||
    error instanceof RouterTimeoutError
  );
}

/** Worth another attempt: the router was lost, not refusing. */
function isTransient(error: unknown): boolean {
  return isUnreachable(error) && !(error instanceof RouterLoginError) && !(error instanceof RouterTrapError);
}
