import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, Migrator, type Dialect, type Migration } from 'kysely';
import type { Logger } from '../logging/logger.js';
import { DataDirLock } from './pglite/data-dir-lock.js';
import { initializeDataDir } from './pglite/initialize-data-dir.js';
import { PGLITE_PARSERS, PGliteDialect } from './pglite/pglite-dialect.js';
import { createPostgresDialect } from './postgres/postgres-dialect.js';

export type Engine = 'pglite' | 'postgres';

export interface DatabaseOptions {
  /** PostgreSQL connection URL; when unset, the embedded database in `dataDir`. */
  url: string | undefined;
  dataDir: string;
  /** Migrations by name; they run in name order at every start. */
  migrations: Record<string, Migration>;
  logger: Logger;
  maxConnections?: number;
}

export interface Database<DB> {
  readonly db: Kysely<DB>;
  readonly engine: Engine;
  close(): Promise<void>;
}

/**
 * Opens the service's own database and brings its schema up to date. The same migrations run on
 * the embedded database and on PostgreSQL: both are Postgres.
 */
export async function openDatabase<DB>(options: DatabaseOptions): Promise<Database<DB>> {
  const { dialect, engine, lock } = options.url
    ? {
        dialect: createPostgresDialect(options.url, options.maxConnections ?? 10),
        engine: 'postgres' as const,
      }
    : await openEmbedded(options.dataDir);
  const db = new Kysely<DB>({ dialect });
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await db.destroy();
    lock?.release();
  };
  try {
    await migrate(db, options.migrations, options.logger);
  } catch (error) {
    await close();
    throw error;
  }
  options.logger.info({ engine }, 'database ready');
  return { db, engine, close };
}

async function openEmbedded(
  dataDir: string,
): Promise<{ dialect: Dialect; engine: 'pglite'; lock: DataDirLock }> {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const lock = DataDirLock.acquire(dataDir);
  try {
    await initializeDataDir(join(dataDir, 'pgdata'));
  } catch (error) {
    lock.release();
    throw error;
  }
  const pglite = new PGlite(join(dataDir, 'pgdata'), {
    parsers: PGLITE_PARSERS,
    startParams: [...PGlite.defaultStartParams, ...EMBEDDED_SETTINGS],
  });
  return { dialect: new PGliteDialect(pglite), engine: 'pglite', lock };
}

/**
 * The embedded database's buffer cache lives in its WebAssembly memory, which grows and never
 * shrinks: with PostgreSQL's default of 128 MB a busy service reached ~0.85 GB, with 32 MB it
 * stays near 0.2 GB. Its files are read through the operating system's page cache, which does
 * the caching a server's shared buffers would.
 */
const EMBEDDED_SETTINGS = ['-c', 'shared_buffers=32MB'];

async function migrate(
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations are untyped by design
  db: Kysely<any>,
  migrations: Record<string, Migration>,
  logger: Logger,
): Promise<void> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: () => Promise.resolve(migrations) },
  });
  const { error, results } = await migrator.migrateToLatest();
  for (const result of results ?? []) {
    if (result.status === 'Success') logger.info({ migration: result.migrationName }, 'migration applied');
    if (result.status === 'Error') logger.error({ migration: result.migrationName }, 'migration failed');
  }
  if (error) throw error instanceof Error ? error : new Error('migration failed', { cause: error });
}
