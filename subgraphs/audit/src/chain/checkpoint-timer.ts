import type { BackgroundWorker, Logger } from '@fleet/service-kit';
import type { ChainWriter } from './chain-writer.js';

/**
 * Signs a checkpoint of the chain's head every interval, when events came in since the last
 * one: however slowly events arrive, none waits longer than the interval to be covered by a
 * signature. (Busy periods are covered by the writer's every-N-events checkpoints.)
 */
export class CheckpointTimer implements BackgroundWorker {
  readonly #writer: ChainWriter;
  readonly #intervalMs: number;
  readonly #logger: Logger;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> = Promise.resolve();

  constructor(writer: ChainWriter, intervalMs: number, logger: Logger) {
    this.#writer = writer;
    this.#intervalMs = intervalMs;
    this.#logger = logger;
  }

  start(): void {
    this.#timer ??= setInterval(() => {
      this.#running = this.#tick();
    }, this.#intervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  async #tick(): Promise<void> {
    try {
      await this.#writer.checkpoint();
    } catch (error) {
      this.#logger.warn({ err: error }, 'could not sign a checkpoint; will try again');
    }
  }
}
