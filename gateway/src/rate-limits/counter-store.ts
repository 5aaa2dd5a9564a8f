import type { ConnectionOptions } from 'node:tls';
import { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Logger } from '@fleet/service-kit';

/**
 * Where the rate-limit counters live: fixed windows, one counter per policy and key. In memory
 * each gateway process counts alone; in Redis every replica adds to the same counters, so a
 * client spread over several gateways has one budget, not one per gateway.
 */
export interface CounterStore {
  /** The limiter of one policy at one limit (limiters of a policy share their counters). */
  limiter(policy: string, limit: number): RateLimiterAbstract;
  close(): Promise<void>;
}

export function memoryCounters(windowS: number): CounterStore {
  const prefix = 'rate';
  return {
    limiter: cachedLimiters(
      (policy, limit) =>
        new RateLimiterMemory({ keyPrefix: `${prefix}:${policy}`, points: limit, duration: windowS }),
    ),
    close: () => Promise.resolve(),
  };
}

/**
 * Counters in Redis. Commands fail at once while the connection is down (no offline queue, a
 * short command timeout), so that the failure policy decides, not a pile of waiting requests;
 * the client keeps reconnecting in the background.
 */
export function redisCounters(options: {
  url: string;
  /** TLS of a `rediss://` connection (`redisTlsOptions`). */
  tls: ConnectionOptions | undefined;
  namespace: string;
  windowS: number;
  logger: Logger;
}): CounterStore {
  const { url, windowS, logger } = options;
  const prefix = `${options.namespace}:rate`;
  const client = new Redis(url, {
    ...(options.tls ? { tls: options.tls } : {}),
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: 1_000,
    connectTimeout: 2_000,
    retryStrategy: (attempt) => Math.min(100 * 2 ** Math.min(attempt, 5), 2_000),
  });
  // Connection errors repeat while Redis is away; the rate limiter logs each change of state.
  client.on('error', (error: Error) => logger.debug({ reason: error.message }, 'redis connection error'));
  return {
    limiter: cachedLimiters(
      (policy, limit) =>
        new RateLimiterRedis({
          storeClient: client,
          keyPrefix: `${prefix}:${policy}`,
          points: limit,
          duration: windowS,
          rejectIfRedisNotReady: true,
        }),
    ),
    close() {
      client.disconnect();
      return Promise.resolve();
    },
  };
}

/** One limiter per policy and limit, made when first asked for. */
function cachedLimiters(
  create: (policy: string, limit: number) => RateLimiterAbstract,
): CounterStore['limiter'] {
  const limiters = new Map<string, RateLimiterAbstract>();
  return (policy, limit) => {
    const id = `${policy}/${limit}`;
    let limiter = limiters.get(id);
    if (!limiter) {
      limiter = create(policy, limit);
      limiters.set(id, limiter);
    }
    return limiter;
  };
}
