import { Redis } from 'ioredis';

/** One status event as the devices subgraph published it. */
export interface Publication {
  /** When it came out of Redis here (ms on the process's monotonic clock). */
  at: number;
  tenantId: string;
  deviceId: string;
  state: string;
}

/**
 * The devices subgraph's status events as Redis carries them to every devices process (channel
 * `<namespace>:devices:status:<tenant>`, the event's JSON), each noted with when it was published:
 * this connection receives it when the devices process's own subscription does. Events are found
 * again at the clients by device and `checkedAt`, which the poll sets once per event.
 */
export class StatusPublications {
  readonly #redis: Redis;
  /** By `deviceId checkedAt`. */
  readonly byKey = new Map<string, Publication>();
  /** Each device's latest state. */
  readonly states = new Map<string, string>();

  private constructor(redis: Redis) {
    this.#redis = redis;
  }

  static async start(url: string, namespace: string): Promise<StatusPublications> {
    const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    const publications = new StatusPublications(redis);
    const prefix = `${namespace}:devices:status:`;
    redis.on('pmessage', (_pattern: string, channel: string, message: string) => {
      const at = Number(process.hrtime.bigint()) / 1e6;
      const { status } = JSON.parse(message) as {
        status: { deviceId: string; tenantId: string; state: string; checkedAt: string | null };
      };
      if (!status.checkedAt || channel.slice(prefix.length) !== status.tenantId) return;
      publications.byKey.set(`${status.deviceId} ${status.checkedAt}`, {
        at,
        tenantId: status.tenantId,
        deviceId: status.deviceId,
        state: status.state,
      });
      publications.states.set(status.deviceId, status.state);
    });
    await redis.connect();
    await redis.psubscribe(`${prefix}*`);
    return publications;
  }

  /** Events published between two instants (monotonic ms). */
  between(from: number, to: number): [string, Publication][] {
    return [...this.byKey].filter(([, publication]) => publication.at >= from && publication.at < to);
  }

  stop(): void {
    this.#redis.disconnect();
  }
}

/** CPU seconds the Redis server has used (user + system, from INFO). */
export async function redisCpuSeconds(url: string): Promise<number> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    const info = await redis.info('cpu');
    const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? NaN);
    return field('used_cpu_user') + field('used_cpu_sys');
  } finally {
    redis.disconnect();
  }
}
