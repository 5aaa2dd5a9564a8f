import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The local PostgreSQL server the PostgreSQL suite runs against (trust authentication). */
export const ADMIN_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export type PostgresMode = 'auto' | 'required' | 'off';

/**
 * Whether the PostgreSQL suite runs: `TEST_POSTGRES=off` never, `required` (and any run under
 * CI=true) always, failing when no server answers; by default when a server answers.
 */
export function postgresMode(): PostgresMode {
  const mode = process.env.TEST_POSTGRES;
  if (mode === 'off' || mode === 'required' || mode === 'auto') return mode;
  return process.env.CI === 'true' ? 'required' : 'auto';
}

export async function postgresReachable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 2_000 });
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Whether this run includes the PostgreSQL suite; prints a visible line when it does not. */
export async function postgresSuiteEnabled(): Promise<boolean> {
  const mode = postgresMode();
  if (mode === 'off') return false;
  if (await postgresReachable()) return true;
  if (mode === 'required') {
    throw new Error(
      `The PostgreSQL suite is required (CI or TEST_POSTGRES=required) but ${ADMIN_URL} is unreachable`,
    );
  }
  return false;
}

export interface ServiceDatabase {
  database: string;
  role: string;
  password: string;
  url: string;
}

/**
 * Creates one database and one role per service, each role owning only its database, and
 * nobody else allowed to connect to it. Returns the URLs and a function that drops them all.
 */
export async function createServiceDatabases<S extends string>(
  services: readonly S[],
): Promise<{ databases: Record<S, ServiceDatabase>; drop: () => Promise<void> }> {
  const run = randomBytes(4).toString('hex');
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  const databases = {} as Record<S, ServiceDatabase>;
  try {
    for (const service of services) {
      const name = `fleet_test_${run}_${service}`;
      const password = randomBytes(18).toString('base64url');
      await admin.query(`create role ${name} login password '${password}'`);
      await admin.query(`create database ${name} owner ${name}`);
      await admin.query(`revoke all on database ${name} from public`);
      const url = new URL(ADMIN_URL);
      url.username = name;
      url.password = password;
      url.pathname = `/${name}`;
      databases[service] = { database: name, role: name, password, url: url.toString() };
    }
  } finally {
    await admin.end();
  }
  const drop = async (): Promise<void> => {
    const client = new pg.Client({ connectionString: ADMIN_URL });
    await client.connect();
    try {
      for (const { database, role } of Object.values<ServiceDatabase>(databases)) {
        // A closed pool's connections say goodbye a moment after it resolves: forcing them out
        // before would reach the test process as a fatal error on a connection it let go.
        for (let waited = 0; waited < 2_000; waited += 50) {
          const { rows } = await client.query<{ open: number }>(
            'select count(*)::int as open from pg_stat_activity where datname = $1',
            [database],
          );
          if (rows[0]!.open === 0) break;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        await client.query(`drop database if exists ${database} with (force)`);
        await client.query(`drop role if exists ${role}`);
      }
    } finally {
      await client.end();
    }
  };
  return { databases, drop };
}
