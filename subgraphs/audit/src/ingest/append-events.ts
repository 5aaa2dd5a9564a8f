import type { Kysely } from 'kysely';
import type { OutboxEvent } from '@fleet/outbox';
import { chainHash } from '../chain/hash-chain.js';
import type { AuditDatabase } from '../database/schema.js';

export interface AppendResult {
  appended: number;
  /** Events whose id was ingested before: delivery is at least once, ingest exactly once. */
  duplicates: number;
}

/**
 * Appends a batch to the hash chain. The chain head is locked for the transaction, so batches
 * from any number of producers (and audit replicas) are chained one after another; each event
 * id is appended once, however often it is delivered.
 */
export async function appendEvents(db: Kysely<AuditDatabase>, events: OutboxEvent[]): Promise<AppendResult> {
  return db.transaction().execute(async (trx) => {
    const head = await trx
      .selectFrom('chain_head')
      .select(['position', 'hash'])
      .where('id', '=', 1)
      .forUpdate()
      .executeTakeFirstOrThrow();
    const ids = [...new Set(events.map((e) => e.id))];
    const seen = new Set(
      ids.length === 0
        ? []
        : (await trx.selectFrom('audit_event').select('id').where('id', 'in', ids).execute()).map(
            (r) => r.id,
          ),
    );
    let { position, hash } = head;
    let appended = 0;
    for (const event of events) {
      if (seen.has(event.id)) continue;
      seen.add(event.id);
      position += 1;
      const previousHash = hash;
      hash = chainHash(previousHash, position, event);
      await trx
        .insertInto('audit_event')
        .values({
          position,
          id: event.id,
          source: event.source,
          aggregate_type: event.aggregateType,
          aggregate_id: event.aggregateId,
          sequence: event.sequence,
          event_type: event.type,
          tenant_id: event.tenantId,
          actor: JSON.stringify(event.actor),
          payload: JSON.stringify(event.payload),
          occurred_at: event.occurredAt,
          previous_hash: previousHash,
          hash,
        })
        .execute();
      appended++;
    }
    if (appended > 0) {
      await trx.updateTable('chain_head').set({ position, hash }).where('id', '=', 1).execute();
    }
    return { appended, duplicates: events.length - appended };
  });
}
