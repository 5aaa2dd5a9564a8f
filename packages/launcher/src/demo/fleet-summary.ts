import type { GatewaySession } from './gateway-client.js';

/**
 * The one query behind the demo's periodic line: the fleet as the gateway shows it. Per-device
 * live status is read here too once devices serve it: add its fields to `FleetDevice` and this
 * query, and its counts to `fleetCounts`.
 */
export const FLEET_QUERY = `query DemoFleet($tenantId: ID!) { devices(tenantId: $tenantId) { id } }`;

export interface FleetDevice {
  id: string;
}

/** What the line says about the devices themselves. */
function fleetCounts(devices: readonly FleetDevice[]): string {
  return `${devices.length} devices`;
}

const JOB_QUERY = 'query DemoJob($id: ID!) { job(id: $id) { status } }';
const FINAL = new Set(['succeeded', 'failed', 'canceled']);

/** The demo's jobs as last read: a job is read again until it has finished. */
export class FleetSummary {
  readonly #session: GatewaySession;
  readonly #tenantId: string;
  readonly #jobs: Map<string, string>;

  constructor(session: GatewaySession, tenantId: string, jobIds: readonly string[]) {
    this.#session = session;
    this.#tenantId = tenantId;
    this.#jobs = new Map(jobIds.map((id) => [id, 'queued']));
  }

  /** True once every job has succeeded, failed or been canceled. */
  get settled(): boolean {
    return [...this.#jobs.values()].every((status) => FINAL.has(status));
  }

  /** One line: the devices, and the jobs by outcome. */
  async line(): Promise<string> {
    const { devices } = await this.#session.call<{ devices: FleetDevice[] }>(FLEET_QUERY, {
      tenantId: this.#tenantId,
    });
    await Promise.all(
      [...this.#jobs]
        .filter(([, status]) => !FINAL.has(status))
        .map(async ([id]) => {
          const { job } = await this.#session.call<{ job: { status: string } | null }>(JOB_QUERY, { id });
          if (job) this.#jobs.set(id, job.status);
        }),
    );
    const count = (status: string) => [...this.#jobs.values()].filter((s) => s === status).length;
    const succeeded = count('succeeded');
    const failed = count('failed') + count('canceled');
    const pending = this.#jobs.size - succeeded - failed;
    const time = new Date().toISOString().slice(11, 19);
    return `[${time}] demo fleet: ${fleetCounts(devices)} · jobs: ${succeeded} succeeded, ${pending} pending, ${failed} failed`;
  }
}
