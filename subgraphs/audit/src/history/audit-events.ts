import { sql, type Kysely } from 'kysely';
import { BadUserInputError, ForbiddenError } from '@fleet/service-kit';
import type { EventScope } from '../access/policy.js';
import type { AuditDatabase } from '../database/schema.js';
import { eventConnection, pageSize } from './connection.js';
import { decodeCursor } from './cursor.js';
import { parseInstant } from './instant.js';
import { scopedEvents, withLinks } from './recorded-events.js';
import { textArgument } from './text-argument.js';

export interface AuditEventFilter {
  actor?: { kind?: string | null; id?: string | null } | null;
  tenantId?: string | null;
  entityType?: string | null;
  entityId?: string | null;
  type?: string | null;
  occurredFrom?: string | null;
  occurredTo?: string | null;
}

export interface AuditEventsArgs {
  filter?: AuditEventFilter | null;
  first?: number | null;
  after?: string | null;
  order?: 'ASC' | 'DESC' | null;
}

/**
 * One page of the log, newest first unless `order` is ASC, in the caller's scope. Pages follow
 * position (keyset, never an offset), so a deep page costs what the first one does. The filters
 * are equalities and a time range, each with its index in migration 0002 (tenant, actor id,
 * entity, event type and occurrence, each ending in position); an entity's id is filtered only
 * with its type, as the entity index is keyed.
 *
 * A caller who may read one tenant only is held to it: a filter naming another tenant is
 * refused as FORBIDDEN (the shield refuses it first; this is the query's own guarantee).
 */
export async function auditEventsPage(db: Kysely<AuditDatabase>, scope: EventScope, args: AuditEventsArgs) {
  const size = pageSize(args.first);
  const descending = (args.order ?? 'DESC') === 'DESC';
  const filter = args.filter ?? {};
  const tenantId = textArgument(filter.tenantId, 'filter.tenantId');
  if (scope.kind === 'tenant' && tenantId !== undefined && tenantId !== scope.tenantId) {
    throw new ForbiddenError();
  }
  const actorKind = textArgument(filter.actor?.kind, 'filter.actor.kind');
  const actorId = textArgument(filter.actor?.id, 'filter.actor.id');
  const entityType = textArgument(filter.entityType, 'filter.entityType');
  const entityId = textArgument(filter.entityId, 'filter.entityId');
  if (entityId !== undefined && entityType === undefined) {
    throw new BadUserInputError('filter.entityId needs filter.entityType', 'filter.entityType');
  }
  const type = textArgument(filter.type, 'filter.type');
  const from =
    filter.occurredFrom == null ? undefined : parseInstant(filter.occurredFrom, 'filter.occurredFrom');
  const to = filter.occurredTo == null ? undefined : parseInstant(filter.occurredTo, 'filter.occurredTo');
  if (from && to && from.getTime() >= to.getTime()) {
    throw new BadUserInputError(
      'filter.occurredFrom must be before filter.occurredTo',
      'filter.occurredFrom',
    );
  }
  const after = args.after == null ? undefined : decodeCursor(args.after, 1, 'after')[0]!;

  let query = scopedEvents(db, scope);
  if (tenantId !== undefined) query = query.where('e.tenant_id', '=', tenantId);
  if (actorKind !== undefined) query = query.where('e.actor_kind', '=', actorKind);
  if (actorId !== undefined) query = query.where('e.actor_id', '=', actorId);
  if (entityType !== undefined) query = query.where('e.aggregate_type', '=', entityType);
  if (entityId !== undefined) query = query.where('e.aggregate_id', '=', entityId);
  if (type !== undefined) query = query.where('e.event_type', '=', type);
  if (from) query = query.where('e.occurred_at', '>=', from);
  if (to) query = query.where('e.occurred_at', '<', to);
  if (after !== undefined) query = query.where('e.position', descending ? '<' : '>', after);
  // Times follow positions closely, and PostgreSQL, taking them for independent, walks the log
  // by position looking for a closed range's events: from the head, past every later event (a
  // day months back costs about 100 ms over a million events). Ordering on an expression of the
  // position rather than the column itself leaves it the occurred index instead: the range's
  // events, then the page's among them (a day's, 2,900, in 5 ms; a month's, 86,000, in 35).
  const order = from && to ? sql<number>`e.position + 0` : sql<number>`e.position`;
  const rows = await withLinks(db, query.orderBy(order, descending ? 'desc' : 'asc').limit(size + 1));
  return eventConnection(rows, size, (row) => [row.position]);
}
