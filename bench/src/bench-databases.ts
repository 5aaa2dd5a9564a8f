import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { SUBGRAPH_NAMES, type SubgraphName } from '@fleet/launcher';

/**
 * One new database per subgraph (or per one of `services`) on a PostgreSQL server on this
 * machine (reached with `adminUrl`), and the variables that point each service at its own;
 * `drop` removes them.
 */
export async function createBenchDatabases(
  adminUrl: string,
  services: readonly SubgraphName[] = SUBGRAPH_NAMES,
): Promise<{
  overrides: Partial<Record<SubgraphName, Record<string, string>>>;
  drop: () => Promise<void>;
}> {
  const url = new URL(adminUrl);
  if (!['127.0.0.1', '[::1]', 'localhost'].includes(url.hostname))
    throw new Error('--postgres must name a server on loopback');
  const run = randomBytes(4).toString('hex');
  const names = services.map((service) => [service, `fleet_bench_${run}_${service}`] as const);
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    for (const [, name] of names) await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const overrides = Object.fromEntries(
    names.map(([service, name]) => {
      const database = new URL(adminUrl);
      database.pathname = `/${name}`;
      return [service, { [`${service.toUpperCase()}_DATABASE_URL`]: database.toString() }];
    }),
  ) as Partial<Record<SubgraphName, Record<string, string>>>;
  const drop = async (): Promise<void> => {
    const client = new pg.Client({ connectionString: adminUrl });
    await client.connect();
    try {
      for (const [, name] of names) await client.query(`drop database if exists ${name} with (force)`);
    } finally {
      await client.end();
    }
  };
  return { overrides, drop };
}
