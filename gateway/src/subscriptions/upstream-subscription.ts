import type { SubscriptionPayload } from '@fleet/request-signing';
import type { Logger } from '@fleet/service-kit';
import type { UpstreamConnections, UpstreamEvent, UpstreamIdentity } from './upstream-connections.js';

export interface UpstreamHandlers {
  event(event: UpstreamEvent): void;
  /** The subgraph refused or ended the subscription with errors: it will not come back. */
  failed(errors: readonly unknown[]): void;
  /** The subgraph ended the subscription. */
  completed(): void;
}

export interface UpstreamSubscriptionOptions {
  connections: UpstreamConnections;
  subgraph: string;
  payload: SubscriptionPayload;
  identity: UpstreamIdentity;
  handlers: UpstreamHandlers;
  /** Longest pause between attempts. */
  retryMaxMs: number;
  logger: Logger;
}

const FIRST_RETRY_MS = 250;

/**
 * One subscription on a subgraph, kept open: when the connection is lost (the subgraph
 * restarts, the network drops) it subscribes again after a pause that doubles from 250 ms up to
 * `retryMaxMs`, with jitter so that a restart does not bring every subscription back at once.
 * Its subscribers stay connected meanwhile and simply receive nothing. A refusal by the subgraph
 * (GraphQL errors) is final.
 */
export class UpstreamSubscription {
  readonly #options: UpstreamSubscriptionOptions;
  #leave: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #failures = 0;
  #stopped = false;

  constructor(options: UpstreamSubscriptionOptions) {
    this.#options = options;
  }

  start(): void {
    if (this.#stopped) return;
    const { connections, subgraph, payload, identity, handlers, logger } = this.#options;
    let settled = false;
    const leave = connections.subscribe(subgraph, payload, identity, {
      next: (event) => {
        if (settled || this.#stopped) return;
        if (this.#failures > 0) logger.info({ subgraph, attempts: this.#failures }, 'subscription resumed');
        this.#failures = 0;
        handlers.event(event);
      },
      error: (error) => {
        if (settled || this.#stopped) return;
        settled = true;
        if (isGraphQLErrors(error)) {
          this.#stopped = true;
          handlers.failed(error);
          return;
        }
        this.#retryLater(error);
      },
      complete: () => {
        if (settled || this.#stopped) return;
        settled = true;
        this.#stopped = true;
        handlers.completed();
      },
    });
    this.#leave = () => {
      settled = true;
      leave();
    };
  }

  /** Leaves the subscription, or abandons the next attempt. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#leave?.();
    this.#leave = undefined;
  }

  #retryLater(error: unknown): void {
    this.#leave = undefined;
    this.#failures++;
    const ceiling = Math.min(this.#options.retryMaxMs, FIRST_RETRY_MS * 2 ** (this.#failures - 1));
    const pauseMs = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
    this.#options.logger.warn(
      { subgraph: this.#options.subgraph, attempts: this.#failures, pauseMs, reason: reasonOf(error) },
      'subscription lost on the subgraph; subscribing again',
    );
    this.#timer = setTimeout(() => this.start(), pauseMs);
  }
}

function isGraphQLErrors(error: unknown): error is readonly unknown[] {
  return (
    Array.isArray(error) &&
    error.length > 0 &&
    error.every((item) => typeof item === 'object' && item !== null && 'message' in item)
  );
}

/** A loggable word on why a connection went away: a close code or an error's message. */
function reasonOf(error: unknown): string {
  if (typeof error === 'object' && error !== null) {
    const { code, reason, message } = error as { code?: unknown; reason?: unknown; message?: unknown };
    if (typeof code === 'number')
      return `closed ${code}${typeof reason === 'string' && reason ? ` ${reason}` : ''}`;
    if (typeof message === 'string') return message;
  }
  return 'unknown';
}
