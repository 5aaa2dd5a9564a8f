import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, openDatabase, type Database, type Engine } from '@fleet/service-kit';
import { migrations } from '../../subgraphs/billing/src/database/migrations.js';
import type { BillingDatabase } from '../../subgraphs/billing/src/database/schema.js';
import { createServiceDatabases } from './postgres.js';
import { removeScratchDirectory } from './scratch-directory.js';

export interface BillingTestDatabase {
  database: Database<BillingDatabase>;
  close(): Promise<void>;
}

/** A fresh, migrated billing database on the engine: on PostgreSQL, owned by a role of its own. */
export async function openBillingTestDatabase(engine: Engine): Promise<BillingTestDatabase> {
  const dir = await mkdtemp(join(tmpdir(), 'billing-db-'));
  let url: string | undefined;
  let drop = (): Promise<void> => Promise.resolve();
  if (engine === 'postgres') {
    const created = await createServiceDatabases(['billing']);
    url = created.databases.billing.url;
    drop = created.drop;
  }
  const database = await openDatabase<BillingDatabase>({
    url,
    dataDir: dir,
    migrations,
    logger: createLogger({ service: 'test', level: 'silent' }),
  });
  return {
    database,
    close: async () => {
      await database.close();
      await drop();
      await removeScratchDirectory(dir);
    },
  };
}
