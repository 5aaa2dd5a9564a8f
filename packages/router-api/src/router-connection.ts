import type { TlsOptions } from 'node:tls';
import { RouterOSAPI } from 'routeros-client';
import {
  RouterConnectionError,
  RouterError,
  RouterLoginError,
  RouterTimeoutError,
  RouterTrapError,
} from './errors.js';
import { applyNodeRouterOsFixes } from './node-routeros-fixes.js';
import { tlsOptions, type RouterTls } from './tls-options.js';

applyNodeRouterOsFixes();

export interface RouterEndpoint {
  /** How the router is named in errors and logs. */
  name: string;
  host: string;
  /** Defaults to 8728, or 8729 with TLS. */
  port?: number;
  username: string;
  password: string;
  /** Plain API when absent. */
  tls?: RouterTls;
}

export interface ConnectionLimits {
  /** Deadline of one call, queueing included. */
  callTimeoutMs: number;
  /** Deadline of connecting and logging in. */
  connectTimeoutMs: number;
  /** Calls in flight at once on the connection; more wait their turn. */
  maxConcurrentCalls: number;
}

export type Row = Record<string, string>;

interface Pending {
  reject(error: Error): void;
}

/**
 * One logged-in API connection. Every call has a deadline; when the connection closes, fails or
 * receives `!fatal`, every call in flight is rejected at once: no promise is left unsettled, and no
 * library event can crash the process. A timed-out call drops the connection, since what the
 * router will still send for it is unknown.
 */
export class RouterConnection {
  readonly #endpoint: RouterEndpoint;
  readonly #limits: ConnectionLimits;
  readonly #api: RouterOSAPI;
  readonly #pending = new Set<Pending>();
  readonly #waiting: (() => void)[] = [];
  #active = 0;
  #closedWith: RouterError | undefined;
  readonly #onClose: () => void;

  private constructor(
    endpoint: RouterEndpoint,
    limits: ConnectionLimits,
    api: RouterOSAPI,
    onClose: () => void,
  ) {
    this.#endpoint = endpoint;
    this.#limits = limits;
    this.#api = api;
    this.#onClose = onClose;
  }

  static async open(
    endpoint: RouterEndpoint,
    limits: ConnectionLimits,
    onClose: () => void = () => {},
  ): Promise<RouterConnection> {
    const api = new RouterOSAPI({
      host: endpoint.host,
      port: endpoint.port ?? (endpoint.tls ? 8729 : 8728),
      user: endpoint.username,
      password: endpoint.password,
      // The library's idle timeout, in seconds; our own deadlines are per call.
      timeout: Math.max(1, Math.ceil((limits.callTimeoutMs * 4) / 1000)),
      // The library's option type is narrower than what it passes on to `tls.connect`.
      ...(endpoint.tls ? { tls: tlsOptions(endpoint.tls) as TlsOptions } : {}),
    });
    const connection = new RouterConnection(endpoint, limits, api, onClose);
    // Listeners first: an 'error' event without one would crash the process.
    api.on('error', (error: unknown) => connection.#fail(toError(error)));
    api.on('close', () => connection.#fail(new Error('connection closed')));
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        api.connect(),
        // The library leaves its connect promise pending when the router closes during login.
        new Promise<never>((_, reject) => {
          api.once('close', () =>
            reject(new RouterConnectionError(endpoint.name, 'connection closed during login')),
          );
        }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new RouterTimeoutError(endpoint.name, 'connecting timed out')),
            limits.connectTimeoutMs,
          );
        }),
      ]);
    } catch (error) {
      connection.#destroy();
      throw connectError(endpoint.name, error);
    } finally {
      clearTimeout(timer);
    }
    return connection;
  }

  get closed(): boolean {
    return this.#closedWith !== undefined;
  }

  /** Sends one command and returns its rows (`!re`, plus any attributes of `!done`). */
  async write(words: readonly string[]): Promise<Row[]> {
    if (this.#closedWith) throw this.#closedWith;
    const deadline = Date.now() + this.#limits.callTimeoutMs;
    return new Promise<Row[]>((resolve, reject) => {
      let settled = false;
      const pending: Pending = {
        reject: (error) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          this.#pending.delete(pending);
          reject(error);
        },
      };
      const timer = setTimeout(() => {
        const error = new RouterTimeoutError(this.#endpoint.name, `${words[0] ?? 'call'} timed out`);
        pending.reject(error);
        this.#fail(error);
      }, deadline - Date.now());
      this.#pending.add(pending);
      void this.#acquire().then(async (release) => {
        if (settled) {
          release();
          return;
        }
        try {
          const rows = (await this.#api.write([...words])) as Row[];
          if (!settled) {
            settled = true;
            clearTimeout(timer);
            this.#pending.delete(pending);
            resolve(rows);
          }
        } catch (error) {
          pending.reject(this.#closedWith ?? trapError(this.#endpoint.name, error));
        } finally {
          release();
        }
      });
    });
  }

  close(): Promise<void> {
    this.#fail(new Error('connection closed by the client'));
    return Promise.resolve();
  }

  #acquire(): Promise<() => void> {
    const release = (): void => {
      this.#active--;
      this.#waiting.shift()?.();
    };
    if (this.#active < this.#limits.maxConcurrentCalls) {
      this.#active++;
      return Promise.resolve(release);
    }
    return new Promise((resolve) =>
      this.#waiting.push(() => {
        this.#active++;
        resolve(release);
      }),
    );
  }

  #fail(cause: Error): void {
    if (this.#closedWith) return;
    // The call that timed out has its own error; the others lost their connection with it.
    this.#closedWith =
      cause instanceof RouterError && !(cause instanceof RouterTimeoutError)
        ? cause
        : new RouterConnectionError(this.#endpoint.name, `connection dropped: ${cause.message}`, { cause });
    for (const pending of [...this.#pending]) pending.reject(this.#closedWith);
    // Calls waiting for a slot are in the pending set too: rejected above, they release at once.
    for (const wake of this.#waiting.splice(0)) wake();
    this.#destroy();
    this.#onClose();
  }

  #destroy(): void {
    const connector = (this.#api as unknown as { connector?: { destroy(): void } | null }).connector;
    try {
      connector?.destroy();
    } catch {
      // Already gone.
    }
  }
}

function toError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}

function trapError(router: string, error: unknown): RouterError {
  if (error instanceof RouterError) return error;
  const data = error as { message?: unknown; category?: unknown };
  const message = typeof data.message === 'string' ? data.message : String(error);
  return new RouterTrapError(router, message, undefined);
}

function connectError(router: string, error: unknown): RouterError {
  if (error instanceof RouterError) return error;
  const text = error instanceof Error ? error.message : String(error);
  const errno = (error as { errno?: unknown }).errno;
  if (errno === 'CANTLOGIN' || /cannot log in|invalid user name or password/.test(text)) {
    return new RouterLoginError(router, 'the router refused the credentials');
  }
  return new RouterConnectionError(router, `cannot connect: ${text}`, { cause: error });
}
