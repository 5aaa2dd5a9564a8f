import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { Principal } from '@fleet/service-kit';
import type { EventActor } from './event.js';
import type { OutboxTables } from './outbox-schema.js';

export interface NewEvent {
  aggregateType: string;
  aggregateId: string;
  type: string;
  tenantId: string | null;
  actor: EventActor;
  /** The entity's state after the change. */
  payload: Record<string, unknown>;
}

/**
 * Writes an event into the outbox. Call it with the transaction that makes the change itself
 * (`outboxTablesOf(trx)`), so the change and its event are committed together or not at all.
 */
export async function recordEvent(trx: Kysely<OutboxTables>, event: NewEvent): Promise<string> {
  const id = randomUUID();
  // Atomic per entity: concurrent changes to one entity get consecutive sequence numbers.
  const { last_sequence: sequence } = await trx
    .insertInto('outbox_sequence')
    .values({ aggregate_type: event.aggregateType, aggregate_id: event.aggregateId, last_sequence: 1 })
    .onConflict((oc) =>
      oc
        .columns(['aggregate_type', 'aggregate_id'])
        .doUpdateSet({ last_sequence: sql`outbox_sequence.last_sequence + 1` }),
    )
    .returning('last_sequence')
    .executeTakeFirstOrThrow();
  await trx
    .insertInto('outbox')
    .values({
      id,
      aggregate_type: event.aggregateType,
      aggregate_id: event.aggregateId,
      sequence,
      event_type: event.type,
      tenant_id: event.tenantId,
      actor: JSON.stringify(event.actor),
      payload: JSON.stringify(event.payload),
    })
    .execute();
  return id;
}

/** The actor of an event, from the principal that caused it: an id, never a name. */
export function actorOf(principal: Principal): EventActor {
  switch (principal.kind) {
    case 'anonymous':
      return { kind: 'anonymous', id: null };
    case 'user':
      return { kind: 'user', id: principal.userId };
    case 'apiKey':
      return { kind: 'apiKey', id: principal.keyId };
  }
}

/**
 * The sequence of an entity's last recorded change; 0 for an entity never changed. The count
 * outlives the entity: a removed entity still has its history.
 */
export async function lastSequenceOf(
  db: Kysely<OutboxTables>,
  aggregateType: string,
  aggregateId: string,
): Promise<number> {
  const row = await db
    .selectFrom('outbox_sequence')
    .select('last_sequence')
    .where('aggregate_type', '=', aggregateType)
    .where('aggregate_id', '=', aggregateId)
    .executeTakeFirst();
  return row?.last_sequence ?? 0;
}
