/**
 * Live events between the devices processes: status after each poll, job progress. Fire and
 * forget: a lost event is superseded by the next one (status is latest-value), while the state
 * itself is kept in the database.
 */
export interface EventBus {
  publish(channel: string, message: string): void;
  /** Calls `listener` with each message on the channel until the returned function is called. */
  subscribe(channel: string, listener: (message: string) => void): () => void;
  close(): Promise<void>;
}
