import type { PollOwnership } from './poll-ownership.js';

/** The embedded default: the one devices process polls every device. */
export class LocalOwnership implements PollOwnership {
  claim(deviceIds: readonly string[]): Promise<ReadonlySet<string>> {
    return Promise.resolve(new Set(deviceIds));
  }

  release(): Promise<void> {
    return Promise.resolve();
  }
}
