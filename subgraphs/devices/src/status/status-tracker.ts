export type DeviceState = 'unknown' | 'online' | 'offline';

export interface InterfaceStatus {
  name: string;
  running: boolean;
  disabled: boolean;
  rxBytes: number;
  txBytes: number;
  /** Bits per second since the previous poll; null on the first one or after a counter reset. */
  rxBitsPerSecond: number | null;
  txBitsPerSecond: number | null;
}

/** A device's live status, as stored, published and served. */
export interface DeviceStatus {
  deviceId: string;
  tenantId: string;
  state: DeviceState;
  /** When the device entered its state (ISO); null while unknown. */
  since: string | null;
  /** The last poll, answered or not (ISO). */
  checkedAt: string | null;
  /** The last poll the router answered (ISO). */
  lastSeenAt: string | null;
  /** Why the last poll failed; null when it was answered. Never holds credentials. */
  error: string | null;
  cpuLoad: number | null;
  freeMemory: number | null;
  totalMemory: number | null;
  uptimeSeconds: number | null;
  interfaces: InterfaceStatus[];
}

/** One poll of a router: what it answered, or why it did not. */
export type Observation =
  | {
      ok: true;
      at: number;
      cpuLoad: number | null;
      freeMemory: number | null;
      totalMemory: number | null;
      uptimeSeconds: number | null;
      interfaces: { name: string; running: boolean; disabled: boolean; rxBytes: number; txBytes: number }[];
    }
  | { ok: false; at: number; error: string };

export interface Hysteresis {
  /** Failed polls in a row before an online (or unknown) device counts as offline. */
  offlineAfter: number;
  /** Answered polls in a row before an offline device counts as online again. */
  onlineAfter: number;
}

/**
 * The status of one device from poll to poll: online and offline with hysteresis (one lost poll
 * does not make a device offline, nor does one answer bring a flapping device back), and traffic
 * rates from the interfaces' byte counters. Pure: it is told the time of each observation.
 */
export class StatusTracker {
  readonly #hysteresis: Hysteresis;
  #status: DeviceStatus;
  #okInARow = 0;
  #failedInARow = 0;
  #previousAt: number | undefined;

  constructor(initial: DeviceStatus, hysteresis: Hysteresis) {
    this.#status = initial;
    this.#hysteresis = hysteresis;
  }

  get status(): DeviceStatus {
    return this.#status;
  }

  /** Takes a poll in; answers the new status and whether the state changed. */
  observe(observation: Observation): { status: DeviceStatus; stateChanged: boolean } {
    const at = new Date(observation.at).toISOString();
    const before = this.#status.state;
    if (observation.ok) {
      this.#okInARow++;
      this.#failedInARow = 0;
      const state =
        before === 'online' || before === 'unknown' || this.#okInARow >= this.#hysteresis.onlineAfter
          ? 'online'
          : before;
      this.#status = {
        ...this.#status,
        state,
        since: state === before ? this.#status.since : at,
        checkedAt: at,
        lastSeenAt: at,
        error: null,
        cpuLoad: observation.cpuLoad,
        freeMemory: observation.freeMemory,
        totalMemory: observation.totalMemory,
        uptimeSeconds: observation.uptimeSeconds,
        interfaces: this.#rates(observation),
      };
      this.#previousAt = observation.at;
    } else {
      this.#failedInARow++;
      this.#okInARow = 0;
      const state = this.#failedInARow >= this.#hysteresis.offlineAfter ? 'offline' : before;
      this.#status = {
        ...this.#status,
        state,
        since: state === before ? this.#status.since : at,
        checkedAt: at,
        error: observation.error,
      };
      // Rates over a gap would average the outage in: the next answer starts afresh.
      this.#previousAt = undefined;
    }
    return { status: this.#status, stateChanged: this.#status.state !== before };
  }

  #rates(observation: Extract<Observation, { ok: true }>): InterfaceStatus[] {
    const previous = new Map(this.#status.interfaces.map((item) => [item.name, item]));
    const seconds = this.#previousAt === undefined ? 0 : (observation.at - this.#previousAt) / 1000;
    const rate = (now: number, before: number | undefined): number | null =>
      seconds > 0 && before !== undefined && now >= before
        ? Math.round(((now - before) * 8) / seconds)
        : null;
    return observation.interfaces.map((item) => {
      const last = previous.get(item.name);
      return {
        ...item,
        rxBitsPerSecond: rate(item.rxBytes, last?.rxBytes),
        txBitsPerSecond: rate(item.txBytes, last?.txBytes),
      };
    });
  }
}

export function unknownStatus(deviceId: string, tenantId: string): DeviceStatus {
  return {
    deviceId,
    tenantId,
    state: 'unknown',
    since: null,
    checkedAt: null,
    lastSeenAt: null,
    error: null,
    cpuLoad: null,
    freeMemory: null,
    totalMemory: null,
    uptimeSeconds: null,
    interfaces: [],
  };
}

const UNITS: Record<string, number> = { w: 604_800, d: 86_400, h: 3_600, m: 60, s: 1 };

/** RouterOS durations (`1w2d03:04:05`, `3h4m5s`, `00:00:07`) in seconds; null when unreadable. */
export function parseUptime(text: string | undefined): number | null {
  if (!text) return null;
  const match = /^((?:\d+[wdhms])*)(?:(\d+):(\d{2}):(\d{2}))?$/.exec(text.trim());
  if (!match || (match[1] === '' && match[2] === undefined)) return null;
  let seconds = 0;
  for (const [, count, unit] of match[1]!.matchAll(/(\d+)([wdhms])/g))
    seconds += Number(count) * UNITS[unit!]!;
  if (match[2] !== undefined) seconds += Number(match[2]) * 3600 + Number(match[3]) * 60 + Number(match[4]);
  return seconds;
}
