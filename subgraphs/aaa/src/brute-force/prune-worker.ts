import { intervalTask, type BackgroundWorker, type Logger } from '@fleet/service-kit';
import type { LoginThrottle } from './login-throttle.js';

/** Deletes spent brute-force counters every few minutes, so the table holds only live ones. */
export function pruneWorker(throttle: LoginThrottle, logger: Logger, everyMs = 300_000): BackgroundWorker {
  return intervalTask({
    name: 'prune brute-force counters',
    everyMs,
    logger,
    run: async () => {
      const removed = await throttle.prune();
      if (removed > 0) logger.debug({ removed }, 'pruned brute-force counters');
    },
  });
}
