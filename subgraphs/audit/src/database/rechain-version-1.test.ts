import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger, openDatabase } from '@fleet/service-kit';
import { CheckpointSigner } from '../chain/checkpoint-signer.js';
import { verifyAuditLog } from '../chain/verify-log.js';
import { migrations } from './migrations.js';
import { version1Hash } from './rechain-version-1.js';
import type { AuditDatabase } from './schema.js';

const logger = createLogger({ service: 'test', level: 'silent' });
const GENESIS = '0'.repeat(64);

/** A database as the first version of audit left it, with `count` events on its chain. */
async function version1Database(dir: string, count: number, corruptAt?: number): Promise<void> {
  const database = await openDatabase({
    url: undefined,
    dataDir: dir,
    migrations: { '0001-event-log': migrations['0001-event-log']! },
    logger,
  });
  let previous = GENESIS;
  for (let position = 1; position <= count; position++) {
    const row = {
      position,
      id: randomUUID(),
      source: 'devices',
      aggregate_type: 'device',
      aggregate_id: randomUUID(),
      sequence: 1,
      event_type: 'device.created',
      tenant_id: randomUUID(),
      actor: { kind: 'user', id: randomUUID() },
      payload: { name: `r${position}` },
      occurred_at: new Date(Date.UTC(2026, 0, 1, 0, position)),
      recorded_at: new Date(Date.UTC(2026, 0, 1, 0, position, 1)),
      previous_hash: previous,
      hash: '',
    };
    row.hash = position === corruptAt ? 'f'.repeat(64) : version1Hash(previous, row);
    await sql`
      insert into audit_event (position, id, source, aggregate_type, aggregate_id, sequence, event_type,
        tenant_id, actor, payload, occurred_at, recorded_at, previous_hash, hash)
      values (${row.position}, ${row.id}, ${row.source}, ${row.aggregate_type}, ${row.aggregate_id}, 1,
        ${row.event_type}, ${row.tenant_id}, ${JSON.stringify(row.actor)}, ${JSON.stringify(row.payload)},
        ${row.occurred_at.toISOString()}, ${row.recorded_at.toISOString()}, ${row.previous_hash}, ${row.hash})`.execute(
      database.db,
    );
    previous = row.hash;
  }
  await sql`update chain_head set position = ${count}, hash = ${previous}`.execute(database.db);
  await database.close();
}

/** The move from the first chain to the append-only store keeps every event, and only a log that verifies. */
describe('migrating the first version of the audit log', () => {
  let dir: string;
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('carries every event over into the new chain, which verifies', async () => {
    dir = await mkdtemp(join(tmpdir(), 'audit-v1-'));
    await version1Database(dir, 5);
    const database = await openDatabase<AuditDatabase>({ url: undefined, dataDir: dir, migrations, logger });
    try {
      const signer = new CheckpointSigner(generateKeyPairSync('ed25519').privateKey);
      expect(await verifyAuditLog(database.db, signer.publicKeys)).toMatchObject({
        ok: true,
        checked: 5,
        events: 5,
      });
      const rows = await database.db
        .selectFrom('audit_event')
        .select(['position', 'payload', 'recorded_at'])
        .orderBy('position')
        .execute();
      expect(rows.map((row) => JSON.parse(row.payload) as unknown)).toEqual(
        [1, 2, 3, 4, 5].map((n) => ({ name: `r${n}` })),
      );
      expect(rows[0]!.recorded_at.toISOString()).toBe('2026-01-01T00:01:01.000Z');
    } finally {
      await database.close();
    }
  });

  it('refuses to carry over a log that does not verify, naming where it breaks', async () => {
    dir = await mkdtemp(join(tmpdir(), 'audit-v1-'));
    await version1Database(dir, 4, 3);
    await expect(openDatabase({ url: undefined, dataDir: dir, migrations, logger })).rejects.toThrow(
      /does not verify at position 3/,
    );
  });
});
