import { EmptySelectorError, RouterError, RouterUnavailableError } from './errors.js';
import {
  RouterConnection,
  type ConnectionLimits,
  type RouterEndpoint,
  type Row,
} from './router-connection.js';

export interface RouterClientOptions extends Partial<ConnectionLimits> {
  /** First wait before reconnecting after a failure; it doubles up to `maxBackoffMs`. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

export type Value = string | number | boolean;

const DEFAULTS = {
  callTimeoutMs: 10_000,
  connectTimeoutMs: 10_000,
  maxConcurrentCalls: 4,
  minBackoffMs: 500,
  maxBackoffMs: 30_000,
};

const MENU = /^(\/[a-z0-9-]+)+$/;
const NAME = /^[a-z0-9.-][a-z0-9._-]*$/i;

/**
 * The platform's way to talk to one router. It keeps one connection, opened on first use and
 * again after a failure, not before a backoff that doubles with each failed attempt (calls in the
 * meantime fail at once with RouterUnavailableError rather than pile up). Text goes out exactly as
 * given and comes back exactly as the router sent it: `"0012"` stays a string.
 */
export class RouterClient {
  readonly #endpoint: RouterEndpoint;
  readonly #options: typeof DEFAULTS;
  #connection: Promise<RouterConnection> | undefined;
  #failures = 0;
  #retryAt = 0;
  #lastError: RouterError | undefined;

  constructor(endpoint: RouterEndpoint, options: RouterClientOptions = {}) {
    this.#endpoint = endpoint;
    this.#options = { ...DEFAULTS, ...options };
  }

  /** Rows of a menu, optionally only those whose properties equal `where`, and only `proplist`. */
  async print(
    menu: string,
    options: { where?: Record<string, Value>; proplist?: readonly string[] } = {},
  ): Promise<Row[]> {
    const words = [`${menuPath(menu)}/print`];
    if (options.proplist) words.push(`=.proplist=${options.proplist.map(checkName).join(',')}`);
    for (const [name, value] of Object.entries(options.where ?? {}))
      words.push(`?${checkName(name)}=${wire(value)}`);
    return this.#call(words);
  }

  /** Adds an item; returns its `.id`. */
  async add(menu: string, values: Record<string, Value>): Promise<string> {
    const rows = await this.#call([`${menuPath(menu)}/add`, ...attributes(values)]);
    const id = rows.find((row) => row.ret !== undefined)?.ret;
    if (!id) throw new RouterError(this.#endpoint.name, `add on ${menu} returned no id`);
    return id;
  }

  /** Sets properties of the items with these ids (never of "all items": ids may not be empty). */
  async set(menu: string, ids: readonly string[], values: Record<string, Value>): Promise<void> {
    await this.#call([`${menuPath(menu)}/set`, this.#numbers(menu, ids), ...attributes(values)]);
  }

  /** Sets properties of a single-value menu such as /system/identity. */
  async setSingle(menu: string, values: Record<string, Value>): Promise<void> {
    await this.#call([`${menuPath(menu)}/set`, ...attributes(values)]);
  }

  async remove(menu: string, ids: readonly string[]): Promise<void> {
    await this.#call([`${menuPath(menu)}/remove`, this.#numbers(menu, ids)]);
  }

  async enable(menu: string, ids: readonly string[]): Promise<void> {
    await this.#call([`${menuPath(menu)}/enable`, this.#numbers(menu, ids)]);
  }

  async disable(menu: string, ids: readonly string[]): Promise<void> {
    await this.#call([`${menuPath(menu)}/disable`, this.#numbers(menu, ids)]);
  }

  /** Returns a property of these items to its default. */
  async unset(menu: string, ids: readonly string[], property: string): Promise<void> {
    await this.#call([
      `${menuPath(menu)}/unset`,
      this.#numbers(menu, ids),
      `=value-name=${checkName(property)}`,
    ]);
  }

  /** Moves items of an ordered menu before `destination` (to the end when absent). */
  async move(menu: string, ids: readonly string[], destination?: string): Promise<void> {
    const words = [`${menuPath(menu)}/move`, this.#numbers(menu, ids)];
    if (destination !== undefined) words.push(`=destination=${destination}`);
    await this.#call(words);
  }

  /** Any other command, e.g. `/system/package/update/check-for-updates`. */
  async command(path: string, values: Record<string, Value> = {}): Promise<Row[]> {
    return this.#call([menuPath(path), ...attributes(values)]);
  }

  async close(): Promise<void> {
    const connection = this.#connection;
    this.#connection = undefined;
    await (await connection?.catch(() => undefined))?.close();
  }

  #numbers(menu: string, ids: readonly string[]): string {
    if (ids.length === 0) {
      throw new EmptySelectorError(this.#endpoint.name, `refusing a change to ${menu} that names no item`);
    }
    for (const id of ids) {
      if (id === '' || id.includes(',') || id.includes('=')) {
        throw new EmptySelectorError(this.#endpoint.name, `"${id}" is not an item id`);
      }
    }
    return `=numbers=${ids.join(',')}`;
  }

  async #call(words: string[]): Promise<Row[]> {
    const connection = await this.#connect();
    return connection.write(words);
  }

  #connect(): Promise<RouterConnection> {
    const current = this.#connection;
    if (current) {
      return current.then((connection) => (connection.closed ? this.#reconnect() : connection));
    }
    return this.#reconnect();
  }

  #reconnect(): Promise<RouterConnection> {
    if (Date.now() < this.#retryAt) {
      const cause = this.#lastError;
      return Promise.reject(
        new RouterUnavailableError(
          this.#endpoint.name,
          `not retrying before ${new Date(this.#retryAt).toISOString()} (${cause?.message ?? 'unreachable'})`,
          this.#retryAt,
          { cause },
        ),
      );
    }
    const opening = RouterConnection.open(this.#endpoint, this.#options).then(
      (connection) => {
        this.#failures = 0;
        this.#lastError = undefined;
        return connection;
      },
      (error: unknown) => {
        this.#failures++;
        const ceiling = Math.min(
          this.#options.maxBackoffMs,
          this.#options.minBackoffMs * 2 ** (this.#failures - 1),
        );
        this.#retryAt = Date.now() + ceiling / 2 + Math.random() * (ceiling / 2);
        this.#lastError = error instanceof RouterError ? error : undefined;
        if (this.#connection === opening) this.#connection = undefined;
        throw error;
      },
    );
    this.#connection = opening;
    return opening;
  }
}

function menuPath(menu: string): string {
  const path = menu.trim().replace(/\s+/g, '/');
  const normalized = path.startsWith('/') ? path : `/${path}`;
  if (!MENU.test(normalized)) throw new TypeError(`"${menu}" is not a RouterOS menu path`);
  return normalized;
}

function checkName(name: string): string {
  if (!NAME.test(name)) throw new TypeError(`"${name}" is not a RouterOS property name`);
  return name;
}

/** Booleans as RouterOS spells them; everything else as text, unchanged. */
function wire(value: Value): string {
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  return String(value);
}

function attributes(values: Record<string, Value>): string[] {
  return Object.entries(values).map(([name, value]) => `=${checkName(name)}=${wire(value)}`);
}
