import type { ConnectionOptions } from 'node:tls';
import { Redis } from 'ioredis';
import type { Logger } from '@fleet/service-kit';
import type { EventBus } from './event-bus.js';

/**
 * Events across every devices process through Redis pub/sub: a status polled by one replica
 * reaches the subscribers of all. One connection publishes (failing at once while Redis is away:
 * the next poll publishes afresh); another subscribes, once per channel however many local
 * listeners it has, and subscribes again by itself after a reconnection.
 */
export class RedisEventBus implements EventBus {
  readonly #publisher: Redis;
  readonly #subscriber: Redis;
  readonly #prefix: string;
  readonly #logger: Logger;
  readonly #listeners = new Map<string, Set<(message: string) => void>>();
  #publishFailing = false;

  constructor(options: {
    url: string;
    tls: ConnectionOptions | undefined;
    namespace: string;
    logger: Logger;
  }) {
    this.#prefix = `${options.namespace}:devices:`;
    this.#logger = options.logger;
    const common = {
      ...(options.tls ? { tls: options.tls } : {}),
      connectTimeout: 2_000,
      retryStrategy: (attempt: number) => Math.min(100 * 2 ** Math.min(attempt, 5), 2_000),
    };
    this.#publisher = new Redis(options.url, {
      ...common,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: 1_000,
    });
    this.#subscriber = new Redis(options.url, { ...common, autoResubscribe: true });
    for (const client of [this.#publisher, this.#subscriber]) {
      // Repeats while Redis is away; the URL (which may hold a password) is never logged.
      client.on('error', (error: Error) => this.#logger.debug({ reason: error.message }, 'redis error'));
    }
    this.#subscriber.on('message', (channel: string, message: string) => {
      const listeners = this.#listeners.get(channel.slice(this.#prefix.length));
      for (const listener of listeners ?? []) listener(message);
    });
  }

  publish(channel: string, message: string): void {
    this.#publisher.publish(this.#prefix + channel, message).then(
      () => {
        if (this.#publishFailing) this.#logger.info('publishing live events through redis again');
        this.#publishFailing = false;
      },
      (error: unknown) => {
        if (!this.#publishFailing) {
          this.#logger.warn({ reason: (error as Error).message }, 'could not publish a live event to redis');
        }
        this.#publishFailing = true;
      },
    );
  }

  subscribe(channel: string, listener: (message: string) => void): () => void {
    let listeners = this.#listeners.get(channel);
    if (!listeners) {
      listeners = new Set();
      this.#listeners.set(channel, listeners);
      this.#subscriber.subscribe(this.#prefix + channel).catch((error: unknown) => {
        this.#logger.warn({ reason: (error as Error).message, channel }, 'could not subscribe in redis');
      });
    }
    const entry = (message: string) => listener(message);
    listeners.add(entry);
    return () => {
      listeners.delete(entry);
      if (listeners.size > 0 || this.#listeners.get(channel) !== listeners) return;
      this.#listeners.delete(channel);
      this.#subscriber.unsubscribe(this.#prefix + channel).catch(() => undefined);
    };
  }

  close(): Promise<void> {
    this.#listeners.clear();
    this.#publisher.disconnect();
    this.#subscriber.disconnect();
    return Promise.resolve();
  }
}
