import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import pg from 'pg';
import type { OutboxEvent } from '@fleet/outbox';
import {
  createLogger,
  openDatabase,
  type Database,
  type Engine,
  type SignedRequest,
} from '@fleet/service-kit';
import type { AuditContext } from '../../subgraphs/audit/src/audit-context.js';
import { ChainWriter, type ChainWriterOptions } from '../../subgraphs/audit/src/chain/chain-writer.js';
import { CheckpointSigner } from '../../subgraphs/audit/src/chain/checkpoint-signer.js';
import { migrations } from '../../subgraphs/audit/src/database/migrations.js';
import type { AuditDatabase } from '../../subgraphs/audit/src/database/schema.js';
import { RetentionPolicy } from '../../subgraphs/audit/src/retention/retention-policy.js';
import { RetentionSealer } from '../../subgraphs/audit/src/retention/retention-sealer.js';
import { ADMIN_URL, createServiceDatabases } from './postgres.js';
import { removeScratchDirectory } from './scratch-directory.js';

export interface AuditTestDatabase {
  database: Database<AuditDatabase>;
  engine: Engine;
  signer: CheckpointSigner;
  /** A chain writer over the database (a clock in the past makes events old enough to prune). */
  writer(options?: Partial<ChainWriterOptions>): ChainWriter;
  /**
   * Runs SQL straight in the database as someone who got past the service: triggers off, as a
   * superuser (PGlite's only user; PostgreSQL's administrator), outside every rule of the store.
   */
  tamper(...statements: string[]): Promise<void>;
  /** Where seals write their exports. */
  sealDir: string;
  /** The resolvers' context for a request, as the service builds it. */
  context(request: SignedRequest): AuditContext;
  /** Empties every table, as a fresh database would be. */
  reset(): Promise<void>;
  close(): Promise<void>;
}

/** A fresh audit database on the engine: on PostgreSQL, owned by a role of its own (no superuser). */
export async function openAuditTestDatabase(engine: Engine): Promise<AuditTestDatabase> {
  const logger = createLogger({ service: 'test', level: 'silent' });
  const dir = await mkdtemp(join(tmpdir(), 'audit-store-'));
  let database: Database<AuditDatabase>;
  let drop = (): Promise<void> => Promise.resolve();
  let admin: pg.Client | undefined;
  if (engine === 'postgres') {
    const created = await createServiceDatabases(['audit']);
    drop = created.drop;
    database = await openDatabase<AuditDatabase>({
      url: created.databases.audit.url,
      dataDir: dir,
      migrations,
      logger,
    });
    const url = new URL(ADMIN_URL);
    url.pathname = `/${created.databases.audit.database}`;
    admin = new pg.Client({ connectionString: url.toString() });
    await admin.connect();
  } else {
    database = await openDatabase<AuditDatabase>({ url: undefined, dataDir: dir, migrations, logger });
  }
  const signer = new CheckpointSigner(generateKeyPairSync('ed25519').privateKey);
  const tamper = async (...statements: string[]): Promise<void> => {
    if (admin) {
      await admin.query('begin');
      try {
        await admin.query('set local session_replication_role = replica');
        for (const statement of statements) await admin.query(statement);
        await admin.query('commit');
      } catch (error) {
        await admin.query('rollback');
        throw error;
      }
      return;
    }
    await database.db.transaction().execute(async (trx) => {
      await sql`set local session_replication_role = replica`.execute(trx);
      for (const statement of statements) await sql.raw(statement).execute(trx);
    });
  };
  const sealDir = join(dir, 'seals');
  const writer = (options: Partial<ChainWriterOptions> = {}) =>
    new ChainWriter(database.db, signer, { checkpointEveryEvents: 1_000, ...options });
  return {
    database,
    engine,
    signer,
    writer,
    sealDir,
    context: (request) => {
      const chain = writer();
      const retention = new RetentionPolicy(database.db, null);
      return {
        db: database.db,
        request,
        signer,
        chain,
        retention,
        sealer: new RetentionSealer(database.db, chain, retention, {
          sealDir,
          maxEventsPerSeal: 1_000,
          logger,
        }),
        owners: new Map(),
        exportMaxPositions: 1_000,
      };
    },
    tamper,
    reset: () =>
      tamper(
        'delete from audit_event',
        'delete from audit_seal',
        'delete from audit_checkpoint',
        'delete from audit_link',
        'delete from audit_retention',
        `update chain_head set position = 0, hash = '${'0'.repeat(64)}'`,
      ),
    close: async () => {
      await admin?.end();
      await database.close();
      await drop();
      await removeScratchDirectory(dir);
    },
  };
}

/** A device's event as devices ships it, each id fresh; `overrides` set what a test is about. */
export function deviceEvent(overrides: Partial<OutboxEvent> = {}): OutboxEvent {
  return {
    id: randomUUID(),
    source: 'devices',
    aggregateType: 'device',
    aggregateId: randomUUID(),
    sequence: 1,
    type: 'device.created',
    tenantId: randomUUID(),
    actor: { kind: 'user', id: randomUUID() },
    occurredAt: new Date().toISOString(),
    payload: { name: 'r1', nested: { b: 2, a: [1, 'x'] } },
    ...overrides,
  };
}
