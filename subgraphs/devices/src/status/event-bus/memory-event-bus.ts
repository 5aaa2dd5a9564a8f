import type { EventBus } from './event-bus.js';

/** Events within one process: the embedded default, where one process polls every device. */
export class MemoryEventBus implements EventBus {
  readonly #listeners = new Map<string, Set<(message: string) => void>>();

  publish(channel: string, message: string): void {
    for (const listener of this.#listeners.get(channel) ?? []) listener(message);
  }

  subscribe(channel: string, listener: (message: string) => void): () => void {
    let listeners = this.#listeners.get(channel);
    if (!listeners) {
      listeners = new Set();
      this.#listeners.set(channel, listeners);
    }
    // A wrapper of its own, so that one function subscribed twice unsubscribes once each time.
    const entry = (message: string) => listener(message);
    listeners.add(entry);
    return () => {
      listeners.delete(entry);
      if (listeners.size === 0) this.#listeners.delete(channel);
    };
  }

  close(): Promise<void> {
    this.#listeners.clear();
    return Promise.resolve();
  }
}
