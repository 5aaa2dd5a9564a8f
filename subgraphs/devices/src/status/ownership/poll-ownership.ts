/**
 * Which devices this process polls. Each device is polled by exactly one process: with one
 * process, that one; with several, they share the fleet through Redis (see redis-ownership.ts).
 */
export interface PollOwnership {
  /** Of the devices there are, answers those this process is to poll until the next call. */
  claim(deviceIds: readonly string[]): Promise<ReadonlySet<string>>;
  /** Gives up every device (on shutdown), so that the other processes take them over at once. */
  release(): Promise<void>;
}
