import type { Kysely, Selectable } from 'kysely';
import { eventFromRow, type OutboxEvent } from '@fleet/outbox';
import { chainHash, GENESIS_HASH } from '../chain/hash-chain.js';
import type { AuditDatabase } from '../database/schema.js';

export type EventRow = Selectable<AuditDatabase['audit_event']>;

/** A stored event as its producer sent it. */
export function toOutboxEvent(row: EventRow): OutboxEvent {
  return eventFromRow(row.source, row);
}

export async function listEvents(
  db: Kysely<AuditDatabase>,
  afterPosition: number,
  limit: number,
): Promise<EventRow[]> {
  return db
    .selectFrom('audit_event')
    .selectAll()
    .where('position', '>', afterPosition)
    .orderBy('position')
    .limit(limit)
    .execute();
}

export async function entityHistory(
  db: Kysely<AuditDatabase>,
  aggregateType: string,
  aggregateId: string,
): Promise<EventRow[]> {
  return db
    .selectFrom('audit_event')
    .selectAll()
    .where('aggregate_type', '=', aggregateType)
    .where('aggregate_id', '=', aggregateId)
    .orderBy('sequence')
    .execute();
}

export interface ChainVerification {
  ok: boolean;
  checked: number;
  firstBrokenPosition: number | null;
}

/** Recomputes every link of the chain, in pages, and names the first that does not hold. */
export async function verifyChain(db: Kysely<AuditDatabase>, pageSize = 1_000): Promise<ChainVerification> {
  let previousHash = GENESIS_HASH;
  let expectedPosition = 1;
  let checked = 0;
  for (;;) {
    const page = await listEvents(db, expectedPosition - 1, pageSize);
    for (const row of page) {
      const recomputed = chainHash(previousHash, row.position, toOutboxEvent(row));
      if (
        row.position !== expectedPosition ||
        row.previous_hash !== previousHash ||
        row.hash !== recomputed
      ) {
        return { ok: false, checked, firstBrokenPosition: expectedPosition };
      }
      previousHash = row.hash;
      expectedPosition++;
      checked++;
    }
    if (page.length < pageSize) break;
  }
  const head = await db.selectFrom('chain_head').select(['position', 'hash']).executeTakeFirstOrThrow();
  if (head.position !== checked || head.hash !== previousHash) {
    return { ok: false, checked, firstBrokenPosition: checked + 1 };
  }
  return { ok: true, checked, firstBrokenPosition: null };
}
