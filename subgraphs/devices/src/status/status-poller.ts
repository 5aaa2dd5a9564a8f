import type { Kysely } from 'kysely';
import type { RouterClient } from '@fleet/router-api';
import type { BackgroundWorker, Logger } from '@fleet/service-kit';
import type { DevicesDatabase } from '../database/schema.js';
import type { DeviceRegistry } from '../registry/device-registry.js';
import type { EventBus } from './event-bus/event-bus.js';
import type { PollOwnership } from './ownership/poll-ownership.js';
import { statusChannel, type StatusEvent } from './status-events.js';
import type { StatusStore } from './status-store.js';
import { parseUptime, StatusTracker, type Hysteresis, type Observation } from './status-tracker.js';

export interface StatusPollerOptions {
  db: Kysely<DevicesDatabase>;
  devices: DeviceRegistry;
  store: StatusStore;
  bus: EventBus;
  ownership: PollOwnership;
  logger: Logger;
  /** How often each device is polled. */
  intervalMs: number;
  /** Longest wait to connect, log in, or for one poll's answer. */
  timeoutMs: number;
  hysteresis: Hysteresis;
  /** How often the process looks at the fleet and renews its share of it. */
  roundMs: number;
}

/** One device this process polls, with its own connection kept open between polls. */
interface Polled {
  id: string;
  tenantId: string;
  updatedAt: number;
  tracker: StatusTracker;
  client: RouterClient | undefined;
  timer: NodeJS.Timeout;
  busy: boolean;
}

const FLUSH_MS = 500;

/**
 * Live status of the fleet. Every round, the poller lists the enrolled devices and asks the
 * ownership which are its own; it polls each of those every interval on one connection kept
 * open (each from a random moment of the first 5 s, not all at once), reading
 * `/system/resource` and the interfaces' counters, and keeps its state (online/offline with
 * hysteresis) and rates. Each poll's status is published at once and written to the database in
 * batches. A device no longer its own (removed, or now another replica's) is let go and its
 * connection closed; a device whose credentials changed is reconnected with the new ones.
 */
export class StatusPoller implements BackgroundWorker {
  readonly #options: StatusPollerOptions;
  readonly #polled = new Map<string, Polled>();
  readonly #dirty = new Map<string, Polled>();
  #roundTimer: NodeJS.Timeout | undefined;
  #flushTimer: NodeJS.Timeout | undefined;
  #round: Promise<void> | undefined;
  #flushing: Promise<void> | undefined;
  #stopping = false;

  constructor(options: StatusPollerOptions) {
    this.#options = options;
  }

  /** Devices this process polls now. */
  get polling(): number {
    return this.#polled.size;
  }

  start(): void {
    this.#scheduleRound(0);
    this.#flushTimer = setInterval(() => void this.#flush(), FLUSH_MS);
  }

  /** Looks at the fleet now (after an enrollment or a removal) rather than at the next round. */
  refresh(): void {
    if (!this.#stopping && !this.#round) this.#scheduleRound(0);
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#roundTimer);
    clearInterval(this.#flushTimer);
    await this.#round;
    const all = [...this.#polled.values()];
    this.#polled.clear();
    await Promise.all(all.map((polled) => this.#let(polled)));
    await this.#flush();
    await this.#options.ownership.release();
  }

  #scheduleRound(delayMs: number): void {
    clearTimeout(this.#roundTimer);
    this.#roundTimer = setTimeout(() => {
      this.#round = this.#runRound().finally(() => {
        this.#round = undefined;
        if (!this.#stopping) this.#scheduleRound(this.#options.roundMs);
      });
    }, delayMs);
  }

  async #runRound(): Promise<void> {
    const { db, ownership, logger } = this.#options;
    try {
      const fleet = await db
        .selectFrom('device')
        .select(['id', 'tenant_id', 'updated_at'])
        .where('tls_mode', 'is not', null)
        .execute();
      const owned = await ownership.claim(fleet.map((device) => device.id));
      if (this.#stopping) return;
      const wanted = new Map(fleet.filter((device) => owned.has(device.id)).map((d) => [d.id, d]));
      let letGo = 0;
      for (const polled of [...this.#polled.values()]) {
        const device = wanted.get(polled.id);
        if (!device) {
          this.#polled.delete(polled.id);
          letGo++;
          await this.#let(polled);
        } else if (device.updated_at.getTime() !== polled.updatedAt) {
          // New credentials: the next poll connects with them.
          polled.updatedAt = device.updated_at.getTime();
          const client = polled.client;
          polled.client = undefined;
          await client?.close();
        }
      }
      const added = [...wanted.values()].filter((device) => !this.#polled.has(device.id));
      const known = await this.#options.store.many(
        added.map((device) => ({ id: device.id, tenantId: device.tenant_id })),
      );
      known.forEach((status, index) => this.#take(added[index]!, status));
      if (added.length > 0 || letGo > 0) {
        logger.info(
          { polling: this.#polled.size, taken: added.length, letGo },
          'devices polled here changed',
        );
      }
    } catch (error) {
      logger.error({ err: error }, 'could not look at the fleet to poll');
    }
  }

  /** Starts polling a device from its last known status (another replica's, after a takeover). */
  #take(device: { id: string; tenant_id: string; updated_at: Date }, last: StatusTracker['status']): void {
    const { intervalMs, hysteresis } = this.#options;
    const polled: Polled = {
      id: device.id,
      tenantId: device.tenant_id,
      updatedAt: device.updated_at.getTime(),
      tracker: new StatusTracker(last, hysteresis),
      client: undefined,
      busy: false,
      timer: setTimeout(
        () => {
          polled.timer = setInterval(() => void this.#poll(polled), intervalMs);
          void this.#poll(polled);
        },
        Math.random() * Math.min(intervalMs, 5_000),
      ),
    };
    this.#polled.set(device.id, polled);
  }

  async #let(polled: Polled): Promise<void> {
    clearTimeout(polled.timer);
    clearInterval(polled.timer);
    const client = polled.client;
    polled.client = undefined;
    await client?.close();
  }

  async #poll(polled: Polled): Promise<void> {
    // A router slower than the interval is not asked twice at once; its deadline decides.
    if (polled.busy || this.#stopping) return;
    polled.busy = true;
    try {
      const observation = await this.#observe(polled);
      if (this.#polled.get(polled.id) !== polled) return;
      const { status, stateChanged } = polled.tracker.observe(observation);
      if (stateChanged) {
        this.#options.logger.info({ deviceId: polled.id, state: status.state }, 'device state changed');
      }
      const event: StatusEvent = { status, stateChanged };
      this.#options.bus.publish(statusChannel(polled.tenantId), JSON.stringify(event));
      this.#dirty.set(polled.id, polled);
    } finally {
      polled.busy = false;
    }
  }

  async #observe(polled: Polled): Promise<Observation> {
    try {
      polled.client ??= await this.#connect(polled);
      const [resources, interfaces] = await Promise.all([
        polled.client.print('/system/resource'),
        polled.client.print('/interface', {
          proplist: ['name', 'running', 'disabled', 'rx-byte', 'tx-byte'],
        }),
      ]);
      const resource = resources[0] ?? {};
      return {
        ok: true,
        at: Date.now(),
        cpuLoad: numberOrNull(resource['cpu-load']),
        freeMemory: numberOrNull(resource['free-memory']),
        totalMemory: numberOrNull(resource['total-memory']),
        uptimeSeconds: parseUptime(resource.uptime),
        interfaces: interfaces
          .filter((row) => row.name !== undefined)
          .map((row) => ({
            name: row.name!,
            running: row.running === 'true',
            disabled: row.disabled === 'true',
            rxBytes: numberOrNull(row['rx-byte']) ?? 0,
            txBytes: numberOrNull(row['tx-byte']) ?? 0,
          })),
      };
    } catch (error) {
      return { ok: false, at: Date.now(), error: error instanceof Error ? error.message : String(error) };
    }
  }

  async #connect(polled: Polled): Promise<RouterClient> {
    const device = await this.#options.devices.get(polled.id);
    if (!device) throw new Error('The device was removed');
    const { intervalMs, timeoutMs } = this.#options;
    return this.#options.devices.clientFor(device, {
      connectTimeoutMs: timeoutMs,
      callTimeoutMs: timeoutMs,
      maxConcurrentCalls: 2,
      minBackoffMs: Math.min(500, intervalMs),
      maxBackoffMs: intervalMs,
    });
  }

  async #flush(): Promise<void> {
    if (this.#flushing || this.#dirty.size === 0) return this.#flushing;
    const batch = [...this.#dirty.values()].map((polled) => polled.tracker.status);
    this.#dirty.clear();
    this.#flushing = this.#options.store
      .save(batch)
      .catch((error: unknown) =>
        this.#options.logger.error({ err: error }, 'could not store device statuses'),
      )
      .finally(() => {
        this.#flushing = undefined;
      });
    return this.#flushing;
  }
}

function numberOrNull(text: string | undefined): number | null {
  if (text === undefined || text === '') return null;
  const value = Number(text);
  return Number.isFinite(value) ? value : null;
}
