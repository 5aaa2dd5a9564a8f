import { sql, type Kysely, type Migration } from 'kysely';

/** The table of brute-force counters, one row per throttled key. */
export interface LoginThrottleTables {
  login_throttle: {
    /** `account:…` or `address:…` followed by the caller's keyed digest: never a raw email or IP. */
    key: string;
    /** Attempts counted in the current window, including the one in progress. */
    failures: number;
    window_started_at: Date;
    /** Set while the key is locked out. */
    locked_until: Date | null;
  };
}

export const loginThrottleMigration: Migration = {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations are untyped by design
  async up(db: Kysely<any>) {
    await sql`
      create table login_throttle (
        key text primary key,
        failures integer not null,
        window_started_at timestamptz not null,
        locked_until timestamptz
      )`.execute(db);
  },
};
