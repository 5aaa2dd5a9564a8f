import type { Logger } from '../logging/logger.js';
import type { BackgroundWorker } from '../subgraph/start-subgraph.js';

export interface IntervalTaskOptions {
  /** What the task does, for its logs ("sign a checkpoint"). */
  name: string;
  everyMs: number;
  logger: Logger;
  run: () => Promise<void>;
}

/**
 * A background worker that runs a task every interval. A run still going when the next is due
 * is not doubled; a failure is logged as a warning and the task runs again next time. Stopping
 * waits for the run in progress.
 */
export function intervalTask(options: IntervalTaskOptions): BackgroundWorker {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  const tick = (): void => {
    if (running) return;
    running = options
      .run()
      .catch((error: unknown) =>
        options.logger.warn({ err: error }, `could not ${options.name}; will try again`),
      )
      .finally(() => {
        running = undefined;
      });
  };
  return {
    start() {
      timer ??= setInterval(tick, options.everyMs);
      timer.unref();
    },
    async stop() {
      clearInterval(timer);
      timer = undefined;
      await running;
    },
  };
}
