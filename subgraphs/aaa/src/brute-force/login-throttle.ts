import { sql, type ExpressionBuilder, type Kysely } from 'kysely';
import type { LoginThrottleTables } from './login-throttle-schema.js';

export interface ThrottleLimit {
  /** Attempts allowed per window; the next one locks the key out. */
  maxFailures: number;
  windowMs: number;
  lockoutMs: number;
}

/** The growing delay before answering an account's attempts, after the first few. */
export interface Tarpit {
  afterFailures: number;
  stepMs: number;
  maxMs: number;
}

export interface LoginThrottleOptions {
  /** Per account: stops guessing one user's password. */
  account?: ThrottleLimit;
  /** Per client address: stops trying one common password on many accounts. */
  address?: ThrottleLimit;
  tarpit?: Tarpit;
  now?: () => Date;
}

export type Reservation = { allowed: true; delayMs: number } | { allowed: false; retryAfterMs: number };

const MINUTE = 60_000;

export const LOGIN_THROTTLE_DEFAULTS = {
  account: { maxFailures: 10, windowMs: 15 * MINUTE, lockoutMs: 15 * MINUTE },
  address: { maxFailures: 100, windowMs: 15 * MINUTE, lockoutMs: 15 * MINUTE },
  tarpit: { afterFailures: 3, stepMs: 500, maxMs: 5_000 },
} as const satisfies Required<Omit<LoginThrottleOptions, 'now'>>;

/**
 * Brute-force counters for password login, per account and per client address.
 *
 * Every attempt is counted as a failure before the password is checked, by `reserve`, and only a
 * success takes it back, with `succeeded`. Counting first is what makes the limit hold under
 * parallel attempts: checking a counter and incrementing it later would let a burst of guesses
 * all read the same count. Each count is one upsert, which PostgreSQL applies to the newest
 * version of the row under a row lock, so concurrent attempts are counted one after the other.
 *
 * Keys are the caller's keyed digests of the email and the address, never the values themselves.
 */
export class LoginThrottle<DB extends LoginThrottleTables = LoginThrottleTables> {
  readonly #db: Kysely<LoginThrottleTables>;
  readonly #account: ThrottleLimit;
  readonly #address: ThrottleLimit;
  readonly #tarpit: Tarpit;
  readonly #now: () => Date;

  constructor(db: Kysely<DB>, options: LoginThrottleOptions = {}) {
    // Kysely's types are invariant in the database type: any database with the throttle's
    // table is viewed as that table alone, here and only here.
    this.#db = db as unknown as Kysely<LoginThrottleTables>;
    this.#account = checkLimit(options.account ?? LOGIN_THROTTLE_DEFAULTS.account);
    this.#address = checkLimit(options.address ?? LOGIN_THROTTLE_DEFAULTS.address);
    this.#tarpit = options.tarpit ?? LOGIN_THROTTLE_DEFAULTS.tarpit;
    this.#now = options.now ?? (() => new Date());
  }

  /**
   * Counts an attempt to log in, as a failure until `succeeded` says otherwise, and says whether
   * the password may be checked, and after how long a pause. Call it before every check.
   *
   * The address is counted first; an attempt it refuses is not counted against the account, so
   * a locked-out client cannot keep burning other people's attempts.
   */
  async reserve(attempt: { account: string; address: string }): Promise<Reservation> {
    const now = this.#now();
    const address = await this.#count(`address:${checkKey(attempt.address)}`, this.#address, now);
    if (address.lockedUntil) return refused(address.lockedUntil, now);
    const account = await this.#count(`account:${checkKey(attempt.account)}`, this.#account, now);
    if (account.lockedUntil) return refused(account.lockedUntil, now);
    return { allowed: true, delayMs: this.#delayFor(account.failures) };
  }

  /**
   * After a successful login: forgets the account's failures, and gives the address back the
   * one attempt this login counted (never more), so a shared address is not locked out by its
   * own successful users while its failures still add up. A lock that parallel attempts set in
   * the meantime stays until it expires.
   */
  async succeeded(attempt: { account: string; address: string }): Promise<void> {
    const now = this.#now();
    const unlocked = (eb: ExpressionBuilder<LoginThrottleTables, 'login_throttle'>) =>
      eb.or([eb('locked_until', 'is', null), eb('locked_until', '<=', now)]);
    await this.#db
      .deleteFrom('login_throttle')
      .where('key', '=', `account:${checkKey(attempt.account)}`)
      .where(unlocked)
      .execute();
    await this.#db
      .updateTable('login_throttle')
      .set({ failures: sql<number>`greatest(failures - 1, 0)` })
      .where('key', '=', `address:${checkKey(attempt.address)}`)
      .where(unlocked)
      .execute();
  }

  /**
   * Deletes the counters that no longer hold anything back: their window is over and they are
   * not locked. Run it now and then, so the table does not keep every address ever seen.
   */
  async prune(): Promise<number> {
    const now = this.#now();
    const windowsOpenedBefore = new Date(
      now.getTime() - Math.max(this.#account.windowMs, this.#address.windowMs),
    );
    const result = await this.#db
      .deleteFrom('login_throttle')
      .where((eb) =>
        eb.or([
          eb('locked_until', '<=', now),
          eb.and([eb('locked_until', 'is', null), eb('window_started_at', '<=', windowsOpenedBefore)]),
        ]),
      )
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  /**
   * Counts one attempt against a key, in one statement, and returns the count and the lock.
   *
   * A locked key stays as it is. A key whose window or lock is over starts again at 1. Otherwise
   * the count goes up, and the attempt that goes over the limit locks the key. The conditions
   * read the row as it was before this statement (`t`), which under concurrency is the version
   * the previous attempt left: no two attempts can both see room for one more.
   */
  async #count(
    key: string,
    limit: ThrottleLimit,
    now: Date,
  ): Promise<{ failures: number; lockedUntil: Date | null }> {
    const windowOpenedBefore = new Date(now.getTime() - limit.windowMs);
    const lockUntil = new Date(now.getTime() + limit.lockoutMs);
    const locked = sql`t.locked_until > ${now}::timestamptz`;
    const over = sql`(t.locked_until is not null or t.window_started_at <= ${windowOpenedBefore}::timestamptz)`;
    const { rows } = await sql<{ failures: number; locked_until: Date | null }>`
      insert into login_throttle as t (key, failures, window_started_at, locked_until)
      values (${key}, 1, ${now}::timestamptz, null)
      on conflict (key) do update set
        failures = case
          when ${locked} then t.failures
          when ${over} then 1
          else t.failures + 1
        end,
        window_started_at = case
          when ${locked} then t.window_started_at
          when ${over} then ${now}::timestamptz
          else t.window_started_at
        end,
        locked_until = case
          when ${locked} then t.locked_until
          when ${over} then null
          when t.failures + 1 > ${limit.maxFailures}::integer then ${lockUntil}::timestamptz
          else null
        end
      returning failures, locked_until`.execute(this.#db);
    const row = rows[0]!;
    return { failures: row.failures, lockedUntil: row.locked_until };
  }

  /** No pause for the first few attempts, then one step more for each, up to the maximum. */
  #delayFor(failures: number): number {
    const { afterFailures, stepMs, maxMs } = this.#tarpit;
    return Math.min(maxMs, Math.max(0, failures - afterFailures) * stepMs);
  }
}

function refused(lockedUntil: Date, now: Date): Reservation {
  return { allowed: false, retryAfterMs: Math.max(1, lockedUntil.getTime() - now.getTime()) };
}

function checkKey(key: string): string {
  if (key.length === 0 || key.length > 200)
    throw new RangeError('a throttle key must have 1 to 200 characters');
  return key;
}

function checkLimit(limit: ThrottleLimit): ThrottleLimit {
  if (!Number.isInteger(limit.maxFailures) || limit.maxFailures < 1) {
    throw new RangeError('maxFailures must be a positive integer');
  }
  if (!(limit.windowMs > 0 && limit.lockoutMs > 0))
    throw new RangeError('windowMs and lockoutMs must be positive');
  return limit;
}
