import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, openDatabase, type Database, type Engine } from '@fleet/service-kit';
import { createServiceDatabases, postgresSuiteEnabled } from '../../../../test/support/postgres.js';
import { loginThrottleMigration, type LoginThrottleTables } from './login-throttle-schema.js';
import { LoginThrottle, type LoginThrottleOptions } from './login-throttle.js';

const logger = createLogger({ service: 'test', level: 'silent' });
const migrations = { '0001-login-throttle': loginThrottleMigration };

/** Connections the PostgreSQL pool may open: enough for the parallel attempts to really race. */
const POOL_SIZE = 20;

const engines: { engine: Engine; enabled: boolean }[] = [
  { engine: 'pglite', enabled: true },
  { engine: 'postgres', enabled: await postgresSuiteEnabled() },
];

/** A clock the test moves by hand. */
function manualClock(start = new Date('2030-01-01T00:00:00Z')) {
  let now = start.getTime();
  return {
    now: () => new Date(now),
    advance: (ms: number) => void (now += ms),
  };
}

const unique = () => randomUUID();

describe.each(engines)('login throttle on $engine', ({ engine, enabled }) => {
  let database: Database<LoginThrottleTables>;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    if (!enabled) return;
    const dir = await mkdtemp(join(tmpdir(), 'login-throttle-'));
    if (engine === 'postgres') {
      const { databases, drop } = await createServiceDatabases(['throttle']);
      database = await openDatabase({
        url: databases.throttle.url,
        dataDir: dir,
        migrations,
        logger,
        maxConnections: POOL_SIZE,
      });
      cleanup = drop;
    } else {
      database = await openDatabase({ url: undefined, dataDir: dir, migrations, logger });
      cleanup = () => rm(dir, { recursive: true, force: true });
    }
  });

  afterAll(async () => {
    if (!enabled) return;
    await database.close();
    await cleanup();
  });

  const throttle = (options: LoginThrottleOptions = {}) => new LoginThrottle(database.db, options);

  const row = (key: string) =>
    database.db.selectFrom('login_throttle').selectAll().where('key', '=', key).executeTakeFirst();

  it.runIf(enabled)('lets exactly maxFailures of 50 parallel attempts on one account through', async () => {
    if (engine === 'postgres') {
      // Opens the pool's connections first, so the attempts below run on many at once.
      await Promise.all(
        Array.from({ length: POOL_SIZE }, () => sql`select pg_sleep(0.05)`.execute(database.db)),
      );
      const { rows } = await sql<{ connections: number }>`
        select count(*)::int as connections from pg_stat_activity where datname = current_database()`.execute(
        database.db,
      );
      expect(rows[0]!.connections).toBeGreaterThanOrEqual(POOL_SIZE / 2);
    }
    const guard = throttle();
    for (let round = 0; round < 5; round++) {
      const account = unique();
      const results = await Promise.all(
        Array.from({ length: 50 }, () => guard.reserve({ account, address: unique() })),
      );
      expect(results.filter((r) => r.allowed)).toHaveLength(10);
      for (const result of results) {
        if (!result.allowed) expect(result.retryAfterMs).toBeGreaterThan(14 * 60_000);
      }
      // Attempts on a locked account do not keep counting.
      expect((await row(`account:${account}`))?.failures).toBe(11);
    }
  });

  it.runIf(enabled)('starts a new window once the old one is over', async () => {
    const clock = manualClock();
    const guard = throttle({
      account: { maxFailures: 3, windowMs: 60_000, lockoutMs: 300_000 },
      now: clock.now,
    });
    const attempt = { account: unique(), address: unique() };
    for (let i = 0; i < 3; i++) expect((await guard.reserve(attempt)).allowed).toBe(true);
    clock.advance(59_999);
    expect((await guard.reserve(attempt)).allowed).toBe(false);

    const other = { account: unique(), address: unique() };
    for (let i = 0; i < 3; i++) expect((await guard.reserve(other)).allowed).toBe(true);
    clock.advance(60_000);
    expect(await guard.reserve(other)).toEqual({ allowed: true, delayMs: 0 });
    expect((await row(`account:${other.account}`))?.failures).toBe(1);
  });

  it.runIf(enabled)('locks a key out for lockoutMs, then lets it start again', async () => {
    const clock = manualClock();
    const guard = throttle({
      account: { maxFailures: 3, windowMs: 60_000, lockoutMs: 300_000 },
      now: clock.now,
    });
    const attempt = { account: unique(), address: unique() };
    for (let i = 0; i < 3; i++) expect((await guard.reserve(attempt)).allowed).toBe(true);
    expect(await guard.reserve(attempt)).toEqual({ allowed: false, retryAfterMs: 300_000 });
    clock.advance(100_000);
    // Still locked, after the window is over too.
    expect(await guard.reserve(attempt)).toEqual({ allowed: false, retryAfterMs: 200_000 });
    expect((await row(`account:${attempt.account}`))?.failures).toBe(4);
    clock.advance(199_999);
    expect(await guard.reserve(attempt)).toEqual({ allowed: false, retryAfterMs: 1 });
    clock.advance(1);
    expect(await guard.reserve(attempt)).toEqual({ allowed: true, delayMs: 0 });
    expect(await row(`account:${attempt.account}`)).toMatchObject({ failures: 1, locked_until: null });
  });

  it.runIf(enabled)(
    "after a success, resets the account's count and gives the address back that one attempt",
    async () => {
      const guard = throttle({
        account: { maxFailures: 3, windowMs: 60_000, lockoutMs: 60_000 },
        address: { maxFailures: 10, windowMs: 60_000, lockoutMs: 60_000 },
      });
      const attempt = { account: unique(), address: unique() };
      for (let i = 0; i < 3; i++) expect((await guard.reserve(attempt)).allowed).toBe(true);
      await guard.succeeded(attempt);
      expect(await row(`account:${attempt.account}`)).toBeUndefined();
      // Two failures and one success: the address keeps the two failures.
      expect((await row(`address:${attempt.address}`))?.failures).toBe(2);
      for (let i = 0; i < 3; i++) expect((await guard.reserve(attempt)).allowed).toBe(true);
      expect((await guard.reserve(attempt)).allowed).toBe(false);
      expect((await row(`address:${attempt.address}`))?.failures).toBe(6);
    },
  );

  it.runIf(enabled)('lets many successful logins from one address through', async () => {
    const guard = throttle({ address: { maxFailures: 5, windowMs: 60_000, lockoutMs: 60_000 } });
    const address = unique();
    for (let i = 0; i < 20; i++) {
      const attempt = { account: unique(), address };
      expect((await guard.reserve(attempt)).allowed).toBe(true);
      await guard.succeeded(attempt);
    }
  });

  it.runIf(enabled)('keeps a lock that parallel attempts set, even after a success', async () => {
    const guard = throttle({ account: { maxFailures: 2, windowMs: 60_000, lockoutMs: 60_000 } });
    const account = unique();
    for (let i = 0; i < 3; i++) await guard.reserve({ account, address: unique() });
    await guard.succeeded({ account, address: unique() });
    expect((await guard.reserve({ account, address: unique() })).allowed).toBe(false);
  });

  it.runIf(enabled)('limits one address across many accounts, without counting against them', async () => {
    const clock = manualClock();
    const guard = throttle({
      address: { maxFailures: 5, windowMs: 60_000, lockoutMs: 120_000 },
      now: clock.now,
    });
    const address = unique();
    const accounts = Array.from({ length: 8 }, unique);
    const results = [];
    for (const account of accounts) results.push(await guard.reserve({ account, address }));
    expect(results.map((r) => r.allowed)).toEqual([true, true, true, true, true, false, false, false]);
    expect(results[5]).toEqual({ allowed: false, retryAfterMs: 120_000 });
    expect(await row(`account:${accounts[6]}`)).toBeUndefined();
    // The same account from another address is not held back.
    expect(await guard.reserve({ account: accounts[6]!, address: unique() })).toEqual({
      allowed: true,
      delayMs: 0,
    });
    clock.advance(120_000);
    expect((await guard.reserve({ account: unique(), address })).allowed).toBe(true);
  });

  it.runIf(enabled)("slows an account's attempts down progressively, up to the maximum", async () => {
    const guard = throttle({
      account: { maxFailures: 20, windowMs: 60_000, lockoutMs: 60_000 },
      tarpit: { afterFailures: 3, stepMs: 500, maxMs: 2_000 },
    });
    const account = unique();
    const delays = [];
    for (let i = 0; i < 10; i++) {
      const result = await guard.reserve({ account, address: unique() });
      delays.push(result.allowed ? result.delayMs : -1);
    }
    expect(delays).toEqual([0, 0, 0, 500, 1000, 1500, 2000, 2000, 2000, 2000]);
  });

  it.runIf(enabled)('slows down by the account, not by the address', async () => {
    const guard = throttle();
    const address = unique();
    for (let i = 0; i < 10; i++) {
      expect(await guard.reserve({ account: unique(), address })).toEqual({ allowed: true, delayMs: 0 });
    }
  });

  it.runIf(enabled)('keeps only prefixed keys, and prunes the counters that are over', async () => {
    const clock = manualClock(new Date('2031-01-01T00:00:00Z'));
    const guard = throttle({
      account: { maxFailures: 1, windowMs: 60_000, lockoutMs: 600_000 },
      address: { maxFailures: 100, windowMs: 30_000, lockoutMs: 60_000 },
      now: clock.now,
    });
    const locked = { account: unique(), address: unique() };
    await guard.reserve(locked);
    await guard.reserve(locked);
    const stale = { account: unique(), address: unique() };
    await guard.reserve(stale);
    clock.advance(60_000);
    const fresh = { account: unique(), address: unique() };
    await guard.reserve(fresh);
    expect(await row(`account:${locked.account}`)).toBeDefined();
    expect(await row(locked.account)).toBeUndefined();

    // Counters are pruned once the longer of the two windows is over.
    expect(await guard.prune()).toBeGreaterThanOrEqual(3);
    expect(await row(`account:${locked.account}`)).toBeDefined();
    expect(await row(`account:${fresh.account}`)).toBeDefined();
    expect(await row(`address:${fresh.address}`)).toBeDefined();
    expect(await row(`account:${stale.account}`)).toBeUndefined();
    expect(await row(`address:${stale.address}`)).toBeUndefined();
    expect(await row(`address:${locked.address}`)).toBeUndefined();
  });

  it.runIf(enabled)('refuses empty keys and nonsensical limits', async () => {
    await expect(throttle().reserve({ account: '', address: 'x' })).rejects.toThrow(RangeError);
    expect(() => throttle({ account: { maxFailures: 0, windowMs: 1, lockoutMs: 1 } })).toThrow(RangeError);
  });
});
