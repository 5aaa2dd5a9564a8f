import type { BackgroundWorker, Logger } from '@fleet/service-kit';
import type { LoginThrottle } from './login-throttle.js';

/** Deletes spent brute-force counters every few minutes, so the table holds only live ones. */
export function pruneWorker(throttle: LoginThrottle, logger: Logger, everyMs = 300_000): BackgroundWorker {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const prune = async () => {
    try {
      const removed = await throttle.prune();
      if (removed > 0) logger.debug({ removed }, 'pruned brute-force counters');
    } catch (error) {
      logger.warn({ err: error }, 'could not prune brute-force counters');
    }
  };
  return {
    start() {
      timer = setInterval(() => {
        running = prune();
      }, everyMs);
      timer.unref();
    },
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
