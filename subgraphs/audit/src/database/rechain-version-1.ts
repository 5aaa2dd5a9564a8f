import { createHash } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { GENESIS_HASH, linkOf, type ChainedEvent } from '@fleet/audit-chain';
import { canonicalJson } from '@fleet/request-signing';

interface Version1Row {
  position: number;
  id: string;
  source: string;
  aggregate_type: string;
  aggregate_id: string;
  sequence: number;
  event_type: string;
  tenant_id: string | null;
  actor: { kind: string; id: string | null };
  payload: Record<string, unknown>;
  occurred_at: Date;
  recorded_at: Date;
  previous_hash: string;
  hash: string;
}

/**
 * Part of migration 0002, frozen with it: checks every link of the first version's chain by that
 * version's formula, and writes each event into the new chain at the same position. A log that
 * does not verify is not carried over: the migration fails, naming the first broken position,
 * rather than re-sign what may have been tampered with.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations are untyped by design
export async function rechainVersion1Log(db: Kysely<any>): Promise<void> {
  let previousV1 = GENESIS_HASH;
  let previous = GENESIS_HASH;
  let position = 0;
  for (;;) {
    const { rows } = await sql<Version1Row>`
      select * from audit_event_v1 where position > ${position} order by position limit 1000`.execute(db);
    for (const row of rows) {
      const expected = position + 1;
      const v1 = version1Hash(previousV1, row);
      if (Number(row.position) !== expected || row.previous_hash !== previousV1 || row.hash !== v1) {
        throw new Error(
          `The audit log does not verify at position ${expected}; it was not migrated. ` +
            'Restore the audit database from a backup, then start again.',
        );
      }
      const event: ChainedEvent = {
        position: expected,
        id: row.id,
        source: row.source,
        aggregateType: row.aggregate_type,
        aggregateId: row.aggregate_id,
        sequence: Number(row.sequence),
        type: row.event_type,
        tenantId: row.tenant_id,
        actor: { kind: row.actor.kind, id: row.actor.id },
        occurredAt: row.occurred_at.toISOString(),
        recordedAt: row.recorded_at.toISOString(),
        payload: row.payload,
      };
      const link = linkOf(previous, event);
      await sql`
        insert into audit_link (position, event_id, tenant_id, previous_hash, digest, hash)
        values (${expected}, ${row.id}, ${row.tenant_id}, ${previous}, ${link.digest}, ${link.hash})`.execute(
        db,
      );
      await sql`
        insert into audit_event (position, id, source, aggregate_type, aggregate_id, sequence, event_type,
          tenant_id, actor_kind, actor_id, payload, occurred_at, recorded_at)
        values (${expected}, ${row.id}, ${row.source}, ${row.aggregate_type}, ${row.aggregate_id}, ${event.sequence},
          ${row.event_type}, ${row.tenant_id}, ${event.actor.kind}, ${event.actor.id},
          ${canonicalJson(row.payload)}, ${event.occurredAt}, ${event.recordedAt})`.execute(db);
      previousV1 = row.hash;
      previous = link.hash;
      position = expected;
    }
    if (rows.length < 1000) break;
  }
  await sql`update chain_head set position = ${position}, hash = ${previous} where id = 1`.execute(db);
}

export function version1Hash(previousHash: string, row: Version1Row): string {
  const covered = {
    position: Number(row.position),
    id: row.id,
    source: row.source,
    aggregateType: row.aggregate_type,
    aggregateId: row.aggregate_id,
    sequence: Number(row.sequence),
    type: row.event_type,
    tenantId: row.tenant_id,
    actor: row.actor,
    occurredAt: row.occurred_at.toISOString(),
    payload: row.payload,
  };
  return createHash('sha256').update(previousHash).update('\n').update(canonicalJson(covered)).digest('hex');
}
