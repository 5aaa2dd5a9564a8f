import { createHash, randomUUID } from 'node:crypto';
import type { ConnectionOptions } from 'node:tls';
import { Redis } from 'ioredis';
import type { Logger } from '@fleet/service-kit';
import type { PollOwnership } from './poll-ownership.js';

/** Heartbeat of this replica; answers the replicas alive now, by Redis's own clock. */
const HEARTBEAT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZRANGE', KEYS[1], 0, -1)`;

/**
 * Takes or renews the lease of the first ARGV[3] keys where it is free or ours; lets go of ours
 * among the others. Answers the positions of the leases held.
 */
const LEASES = `
local held = {}
local wanted = tonumber(ARGV[3])
for i = 1, #KEYS do
  local owner = redis.call('GET', KEYS[i])
  if i <= wanted then
    if not owner then
      redis.call('SET', KEYS[i], ARGV[1], 'PX', ARGV[2])
      held[#held + 1] = i
    elseif owner == ARGV[1] then
      redis.call('PEXPIRE', KEYS[i], ARGV[2])
      held[#held + 1] = i
    end
  elseif owner == ARGV[1] then
    redis.call('DEL', KEYS[i])
  end
end
return held`;

/**
 * Poll ownership shared by the devices replicas through Redis. Each replica beats its heart
 * into a set of live replicas; each device belongs to the live replica that ranks highest for
 * it (rendezvous hashing, so a replica joining or leaving moves only its share). A lease per
 * device makes "exactly one" hold while replicas disagree for a moment: a replica polls a device
 * only while it holds the device's lease, and lets go of the devices that are no longer its own.
 * A replica that dies stops beating and renewing: once its leases run out, the replicas that now
 * rank highest take its devices over. A replica that cannot reach Redis stops polling when its
 * leases would have run out, so it never polls beside the replica that took over.
 */
export class RedisOwnership implements PollOwnership {
  readonly #client: Redis;
  readonly #membersKey: string;
  readonly #leasePrefix: string;
  readonly #leaseMs: number;
  readonly #logger: Logger;
  readonly #me = `replica-${randomUUID()}`;
  #held = new Set<string>();
  #validUntil = 0;
  #failing = false;

  constructor(options: {
    url: string;
    tls: ConnectionOptions | undefined;
    namespace: string;
    leaseMs: number;
    logger: Logger;
  }) {
    this.#membersKey = `${options.namespace}:devices:pollers`;
    this.#leasePrefix = `${options.namespace}:devices:poll:`;
    this.#leaseMs = options.leaseMs;
    this.#logger = options.logger;
    this.#client = new Redis(options.url, {
      ...(options.tls ? { tls: options.tls } : {}),
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: 2_000,
      connectTimeout: 2_000,
      retryStrategy: (attempt) => Math.min(100 * 2 ** Math.min(attempt, 5), 2_000),
    });
    this.#client.on('error', (error: Error) => this.#logger.debug({ reason: error.message }, 'redis error'));
    this.#client.defineCommand('fleetHeartbeat', { numberOfKeys: 1, lua: HEARTBEAT });
    this.#client.defineCommand('fleetLeases', { lua: LEASES });
  }

  async claim(deviceIds: readonly string[]): Promise<ReadonlySet<string>> {
    const started = Date.now();
    try {
      const members = (await this.#call('fleetHeartbeat', [
        this.#membersKey,
        this.#me,
        String(this.#leaseMs),
      ])) as string[];
      const mine = deviceIds.filter((id) => ownerOf(id, members) === this.#me);
      const wanted = new Set(mine);
      const others = [...this.#held].filter((id) => !wanted.has(id));
      const keys = [...mine, ...others].map((id) => this.#leasePrefix + id);
      const held = (await this.#call('fleetLeases', [
        keys.length,
        ...keys,
        this.#me,
        String(this.#leaseMs),
        String(mine.length),
      ])) as number[];
      this.#held = new Set(held.map((position) => mine[position - 1]!));
      // The leases were renewed at the latest when this round began.
      this.#validUntil = started + this.#leaseMs;
      if (this.#failing) this.#logger.info('poll ownership reached redis again');
      this.#failing = false;
    } catch (error) {
      if (!this.#failing) {
        this.#logger.warn({ reason: (error as Error).message }, 'could not renew poll ownership in redis');
      }
      this.#failing = true;
      if (Date.now() >= this.#validUntil) this.#held = new Set();
    }
    return this.#held;
  }

  async release(): Promise<void> {
    const keys = [...this.#held].map((id) => this.#leasePrefix + id);
    this.#held = new Set();
    try {
      await this.#client.zrem(this.#membersKey, this.#me);
      if (keys.length > 0) await this.#call('fleetLeases', [keys.length, ...keys, this.#me, '1', '0']);
    } catch {
      // Redis is away: the leases run out by themselves.
    } finally {
      this.#client.disconnect();
    }
  }

  #call(command: 'fleetHeartbeat' | 'fleetLeases', args: (string | number)[]): Promise<unknown> {
    const commands = this.#client as unknown as Record<
      string,
      (...a: (string | number)[]) => Promise<unknown>
    >;
    return commands[command]!(...args);
  }
}

/** The live replica that ranks highest for a device (rendezvous hashing). */
export function ownerOf(deviceId: string, members: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestScore = '';
  for (const member of members) {
    const score = createHash('sha256').update(member).update('\0').update(deviceId).digest('hex');
    if (best === undefined || score > bestScore) {
      best = member;
      bestScore = score;
    }
  }
  return best;
}
