import type { Logger } from '@fleet/service-kit';
import type { RolloutStore } from './rollout-store.js';

export interface RolloutWorkerOptions {
  rollouts: RolloutStore;
  logger: Logger;
  /** How often the running rollouts are looked at. */
  pollMs: number;
}

/** Running rollouts looked at in one round. */
const ROUND = 500;

/**
 * Takes running rollouts on, stage by stage. It holds nothing in memory: every round reads each
 * running rollout from the database and advances it under its row lock (a rollout another
 * process is advancing this moment is skipped), so any number of devices processes can run it,
 * and a process killed in the middle leaves nothing half done.
 */
export class RolloutWorker {
  readonly #options: RolloutWorkerOptions;
  #timer: NodeJS.Timeout | undefined;
  #round: Promise<void> | undefined;
  #stopping = false;

  constructor(options: RolloutWorkerOptions) {
    this.#options = options;
  }

  start(): void {
    this.#schedule(0);
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#timer);
    await this.#round;
  }

  #schedule(delayMs: number): void {
    if (this.#stopping) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#round = this.#poll().finally(() => this.#schedule(this.#options.pollMs));
    }, delayMs);
  }

  async #poll(): Promise<void> {
    const { rollouts, logger } = this.#options;
    let ids: string[];
    try {
      ids = await rollouts.running(ROUND);
    } catch (error) {
      logger.error({ err: error }, 'could not read the running rollouts');
      return;
    }
    for (const id of ids) {
      if (this.#stopping) return;
      try {
        await rollouts.advance(id);
      } catch (error) {
        logger.error({ err: error, rolloutId: id }, 'could not advance a rollout');
      }
    }
  }
}
