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
 * position, or, with a time range, the time events occurred at (keyset, never an offset), so a
 * deep page costs what the first one does. The filters
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
  // With a time range the page follows the time events occurred at (then their position), on the
  // occurrence indexes; without one, the position. Either way a keyset, never an offset: walking
  // positions for events months back costs a scan past every later event.
  const byTime = from !== undefined || to !== undefined;
  const after = args.after == null ? undefined : decodeCursor(args.after, byTime ? 2 : 1, 'after');

  let query = scopedEvents(db, scope);
  if (tenantId !== undefined) query = query.where('e.tenant_id', '=', tenantId);
  if (actorKind !== undefined) query = query.where('e.actor_kind', '=', actorKind);
  if (actorId !== undefined) query = query.where('e.actor_id', '=', actorId);
  if (entityType !== undefined) query = query.where('e.aggregate_type', '=', entityType);
  if (entityId !== undefined) query = query.where('e.aggregate_id', '=', entityId);
  if (type !== undefined) query = query.where('e.event_type', '=', type);
  if (from) query = query.where('e.occurred_at', '>=', from);
  if (to) query = query.where('e.occurred_at', '<', to);
  const direction = descending ? 'desc' : 'asc';
  if (byTime) {
    if (after) {
      const [time, position] = after as [number, number];
      query = query.where(
        descending
          ? sql<boolean>`(e.occurred_at, e.position) < (${new Date(time)}, ${position})`
          : sql<boolean>`(e.occurred_at, e.position) > (${new Date(time)}, ${position})`,
      );
    }
    const rows = await withLinks(
      db,
      query
        .orderBy('e.occurred_at', direction)
        .orderBy('e.position', direction)
        .limit(size + 1),
    );
    return eventConnection(rows, size, (row) => [row.occurred_at.getTime(), row.position]);
  }
  if (after) query = query.where('e.position', descending ? '<' : '>', after[0]!);
  const rows = await withLinks(db, query.orderBy('e.position', direction).limit(size + 1));
  return eventConnection(rows, size, (row) => [row.position]);
}
