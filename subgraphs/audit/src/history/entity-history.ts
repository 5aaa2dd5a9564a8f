import type { Kysely } from 'kysely';
import type { EventScope } from '../access/policy.js';
import type { AuditDatabase } from '../database/schema.js';
import { eventConnection, pageSize } from './connection.js';
import { decodeCursor } from './cursor.js';
import { scopedEvents, withLinks } from './recorded-events.js';
import { textArgument } from './text-argument.js';

export interface EntityHistoryArgs {
  entityType: string;
  entityId: string;
  first?: number | null;
  after?: string | null;
}

/** A place in an entity's history: the keyset its pages follow. */
export interface HistoryPlace {
  sequence: number;
  position: number;
}

/**
 * An entity's events in the scope, after `after` when given, in the order of its own history:
 * by sequence, as its producer numbered the changes, never by arrival (events of one entity can
 * reach audit out of order through different relays). Position breaks a tie between two sources
 * numbering the same entity. Served by the entity index of migration 0002.
 */
export function entityEvents(
  db: Kysely<AuditDatabase>,
  scope: EventScope,
  entityType: string,
  entityId: string,
  after?: HistoryPlace,
) {
  let query = scopedEvents(db, scope)
    .where('e.aggregate_type', '=', entityType)
    .where('e.aggregate_id', '=', entityId);
  if (after) {
    const { sequence, position } = after;
    query = query
      .where('e.sequence', '>=', sequence)
      .where((eb) => eb(eb.refTuple('e.sequence', 'e.position'), '>', eb.tuple(sequence, position)));
  }
  return query.orderBy('e.sequence').orderBy('e.position');
}

/** One page of an entity's history, oldest first; cursors hold the sequence and position. */
export async function entityHistoryPage(
  db: Kysely<AuditDatabase>,
  scope: EventScope,
  args: EntityHistoryArgs,
) {
  const size = pageSize(args.first);
  const entityType = textArgument(args.entityType, 'entityType');
  const entityId = textArgument(args.entityId, 'entityId');
  let after: HistoryPlace | undefined;
  if (args.after != null) {
    const [sequence, position] = decodeCursor(args.after, 2, 'after') as [number, number];
    after = { sequence, position };
  }
  const rows = await withLinks(db, entityEvents(db, scope, entityType, entityId, after).limit(size + 1));
  return eventConnection(rows, size, (row) => [row.sequence, row.position]);
}
