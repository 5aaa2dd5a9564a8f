import type { GatewaySession } from './gateway-client.js';

/** The one query behind the demo's periodic line: the fleet and its live status, as the gateway shows it. */
export const FLEET_QUERY = `query DemoFleet($tenantId: ID!) {
  devices(tenantId: $tenantId) {
    id name status { state interfaces { rxBitsPerSecond txBitsPerSecond } }
  }
}`;

export interface FleetDevice {
  id: string;
  name: string;
  status: {
    state: 'UNKNOWN' | 'ONLINE' | 'OFFLINE';
    interfaces: { rxBitsPerSecond: number | null; txBitsPerSecond: number | null }[];
  };
}

/** What the line says about the devices themselves: their states, and the fleet's traffic. */
function fleetCounts(devices: readonly FleetDevice[]): string {
  const inState = (state: FleetDevice['status']['state']) =>
    devices.filter((device) => device.status.state === state).length;
  let bits = 0;
  for (const device of devices)
    for (const item of device.status.interfaces)
      bits += (item.rxBitsPerSecond ?? 0) + (item.txBitsPerSecond ?? 0);
  const offline = devices.filter((device) => device.status.state === 'OFFLINE').map((device) => device.name);
  return (
    `${devices.length} devices (${inState('ONLINE')} online, ${inState('OFFLINE')} offline, ` +
    `${inState('UNKNOWN')} not polled yet) · ${(bits / 1e6).toFixed(1)} Mbit/s` +
    (offline.length > 0 ? ` · offline: ${offline.join(', ')}` : '')
  );
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
