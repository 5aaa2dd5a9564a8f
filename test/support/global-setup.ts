import { postgresMode, postgresReachable, ADMIN_URL } from './postgres.js';

/** Says once, visibly, whether the PostgreSQL suite runs; under CI its absence is a failure. */
export default async function setup(): Promise<void> {
  const mode = postgresMode();
  if (mode === 'off') {
    console.warn('\n[PostgreSQL suite] skipped: TEST_POSTGRES=off\n');
    return;
  }
  if (await postgresReachable()) {
    console.warn(`\n[PostgreSQL suite] runs against ${ADMIN_URL}\n`);
    return;
  }
  if (mode === 'required') {
    throw new Error(`[PostgreSQL suite] required, but no PostgreSQL answers at ${ADMIN_URL}`);
  }
  console.warn(`\n[PostgreSQL suite] SKIPPED: no PostgreSQL answers at ${ADMIN_URL}\n`);
}
