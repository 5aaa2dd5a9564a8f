import type { Logger } from '@fleet/service-kit';
import { jsonAnswer, postToAaa, type AaaEndpoint } from './aaa-internal-calls.js';

/** What the gateway knows of revocations: asked on every authenticated request. */
export interface RevocationSnapshot {
  sessionRevoked(sessionId: string): boolean;
  apiKeyRevoked(keyId: string): boolean;
}

export interface RevocationFeedOptions {
  aaa: AaaEndpoint;
  logger: Logger;
  /** Pause between the end of one poll and the start of the next. */
  pollMs: number;
  /** Longest start() waits for the first answer before the gateway starts without it. */
  firstPollWaitMs?: number;
  timeoutMs?: number;
  /** Told the revoked API keys after every answer that names any, to evict them from caches. */
  onApiKeysRevoked?: (keyIds: ReadonlySet<string>) => void;
  /** Told after every answer, once the new snapshot is in place (open subscriptions are checked). */
  onUpdate?: () => void;
}

/**
 * Keeps the gateway's list of revoked sessions and API keys, polling aaa's
 * `/internal/revocations`.
 *
 * Access tokens are stateless and live up to 15 minutes, so a logout, a refresh-token reuse or an
 * administrator's revocation would not stop them by itself. aaa answers every poll with the ids
 * of the sessions and API keys revoked within the last token lifetime: a snapshot, which replaces
 * the previous one whole (there is no cursor to lose). A revoked session's tokens are thus
 * refused within about one poll interval.
 *
 * When a poll fails, the last known lists are kept and a warning is logged: the gateway keeps
 * serving, and revocations made meanwhile take effect once aaa answers again.
 */
export class RevocationFeed implements RevocationSnapshot {
  #sessions: ReadonlySet<string> = new Set();
  #apiKeys: ReadonlySet<string> = new Set();
  readonly #options: RevocationFeedOptions;
  readonly #stopping = new AbortController();
  #running = false;
  #timer: NodeJS.Timeout | undefined;
  #polling: Promise<void> | undefined;
  #failures = 0;

  constructor(options: RevocationFeedOptions) {
    this.#options = options;
  }

  sessionRevoked(sessionId: string): boolean {
    return this.#sessions.has(sessionId);
  }

  apiKeyRevoked(keyId: string): boolean {
    return this.#apiKeys.has(keyId);
  }

  /**
   * Polls now, then every `pollMs`. Resolves once the first answer is in, or after
   * `firstPollWaitMs` (2 s by default) so that an unreachable aaa does not hold up the start.
   */
  async start(): Promise<void> {
    if (this.#running || this.#stopping.signal.aborted) throw new Error('The revocation feed runs once');
    this.#running = true;
    const first = this.#pollAndSchedule();
    let waited: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      waited = setTimeout(() => resolve('timeout'), this.#options.firstPollWaitMs ?? 2_000);
    });
    const outcome = await Promise.race([first, timeout]);
    clearTimeout(waited);
    if (outcome === 'timeout') {
      this.#options.logger.warn('starting before aaa answered the first revocation poll');
    }
  }

  /** Stops polling: abandons a poll in flight and leaves no timer behind. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#stopping.abort();
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#polling;
  }

  /** One poll; true when it brought a new snapshot. Never throws. */
  async poll(): Promise<boolean> {
    try {
      const response = await postToAaa(
        this.#options.aaa,
        '/internal/revocations',
        {},
        { timeoutMs: this.#options.timeoutMs ?? 5_000, signal: this.#stopping.signal },
      );
      const snapshot = snapshotOf(await jsonAnswer(response, 'the revocation poll'));
      if (!snapshot) throw new Error('aaa answered the revocation poll with an unexpected body');
      this.#sessions = snapshot.sessions;
      this.#apiKeys = snapshot.apiKeys;
      if (snapshot.apiKeys.size > 0) this.#options.onApiKeysRevoked?.(snapshot.apiKeys);
      this.#options.onUpdate?.();
      if (this.#failures > 0) {
        this.#options.logger.info({ failedPolls: this.#failures }, 'revocation feed recovered');
      }
      this.#failures = 0;
      return true;
    } catch (error) {
      if (this.#stopping.signal.aborted) return false;
      this.#failures++;
      this.#options.logger.warn(
        { err: error, failedPolls: this.#failures },
        'revocation poll failed; keeping the last known revocations',
      );
      return false;
    }
  }

  #pollAndSchedule(): Promise<void> {
    const polling = this.poll().then(() => {
      if (this.#polling === polling) this.#polling = undefined;
      if (!this.#running) return;
      this.#timer = setTimeout(() => void this.#pollAndSchedule(), this.#options.pollMs);
    });
    this.#polling = polling;
    return polling;
  }
}

function snapshotOf(answer: unknown): { sessions: Set<string>; apiKeys: Set<string> } | undefined {
  if (typeof answer !== 'object' || answer === null) return undefined;
  const { sessions, apiKeys } = answer as Record<string, unknown>;
  if (!isStringArray(sessions) || !isStringArray(apiKeys)) return undefined;
  return { sessions: new Set(sessions), apiKeys: new Set(apiKeys) };
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}
