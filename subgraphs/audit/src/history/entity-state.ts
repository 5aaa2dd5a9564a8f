import type { Kysely } from 'kysely';
import type { EventScope } from '../access/policy.js';
import type { AuditDatabase } from '../database/schema.js';
import { entityEvents } from './entity-history.js';
import { recordedEventOf, withLinks, type RecordedEvent } from './recorded-events.js';

/** What the fold reads of an event: its place in the entity's history, its type and its payload. */
export interface StateChange {
  sequence: number;
  type: string;
  /** The entity's state after the change: whole, or only the fields that changed. */
  payload: Record<string, unknown>;
}

/** An entity's state after a run of its events. */
export interface FoldedEntity<E extends StateChange = StateChange> {
  /** False from a removal on, until a later event brings the entity back. */
  exists: boolean;
  /** The last known state; after a removal, the state the entity was removed with. */
  state: Record<string, unknown>;
  /** The last event folded, and its sequence. */
  sequence: number;
  event: E;
}

/** An event whose type ends in `.removed` or `.deleted`: the entity does not exist after it. */
export function isRemoval(type: string): boolean {
  return type.endsWith('.removed') || type.endsWith('.deleted');
}

/**
 * Folds events into the entity's state, in sequence order whatever order they are given in
 * (arrival order is not the entity's order). Each payload is merged over the state before it,
 * field by field at the top level, so that whole snapshots and partial ones both fold right. A
 * removal is merged too, keeping the last known state, but the entity no longer exists; the
 * event after it starts again from its own payload, as a new life of the entity owes nothing
 * to the fields of the old one.
 *
 * `start` continues a fold (as entityStateAt does page by page); null when there is nothing
 * to fold.
 */
export function foldEntityState<E extends StateChange>(
  events: Iterable<E>,
  start: FoldedEntity<E> | null = null,
): FoldedEntity<E> | null {
  // Array.prototype.sort is stable: events of one sequence keep the order they are given in.
  const ordered = [...events].sort((a, b) => a.sequence - b.sequence);
  let folded = start;
  for (const event of ordered) {
    const removal = isRemoval(event.type);
    const base = folded && (folded.exists || removal) ? folded.state : {};
    folded = {
      exists: !removal,
      state: { ...base, ...event.payload },
      sequence: event.sequence,
      event,
    };
  }
  return folded;
}

/** An entity's state at a moment, as entityStateAt folds it from the log. */
export interface EntityStateAt extends FoldedEntity<RecordedEvent> {
  entityType: string;
  entityId: string;
  asOf: Date;
  /** The tenant of the last event folded. */
  tenantId: string | null;
}

/** Events read per query while folding: a long history is folded without holding it all. */
const FOLD_PAGE = 1_000;

/**
 * The state of an entity at `asOf`, folded (see foldEntityState) from its events in `scope`
 * that occurred at or before that moment, in sequence order: an event that occurred later is
 * left out even when its sequence comes first, as the entity's producer had not made it yet at
 * `asOf`. Null when no such event is recorded (or none the scope may read). Pass ALL_EVENTS as
 * the scope only for a caller that may read every tenant's events.
 */
export async function entityStateAt(
  db: Kysely<AuditDatabase>,
  entityType: string,
  entityId: string,
  asOf: Date,
  scope: EventScope,
): Promise<EntityStateAt | null> {
  let folded = null as FoldedEntity<RecordedEvent> | null;
  for (;;) {
    const rows = await withLinks(
      db,
      entityEvents(db, scope, entityType, entityId, folded?.event)
        .where('e.occurred_at', '<=', asOf)
        .limit(FOLD_PAGE),
    );
    folded = foldEntityState(rows.map(recordedEventOf), folded);
    if (rows.length < FOLD_PAGE) break;
  }
  if (!folded) return null;
  return { ...folded, entityType, entityId, asOf, tenantId: folded.event.tenantId };
}
