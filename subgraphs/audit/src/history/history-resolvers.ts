import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper/index.js';
import type { Kysely } from 'kysely';
import { BadUserInputError, ForbiddenError, type SignedRequest } from '@fleet/service-kit';
import { eventScopeOf, type EventScope } from '../access/policy.js';
import type { AuditDatabase } from '../database/schema.js';
import { auditEventsPage, type AuditEventsArgs } from './audit-events.js';
import { diffStates } from './entity-diff.js';
import { entityEvents, entityHistoryPage, type EntityHistoryArgs } from './entity-history.js';
import { entityStateAt, type EntityStateAt } from './entity-state.js';
import { parseInstant } from './instant.js';
import { auditEventToGraphQL, recordedEventOf, withLinks } from './recorded-events.js';
import { textArgument } from './text-argument.js';

/** What the history resolvers read from the context. */
export interface HistoryContext {
  db: Kysely<AuditDatabase>;
  request: SignedRequest;
}

/** The caller's scope; the shield lets no caller without one this far. */
function scopeOf(request: SignedRequest): EventScope {
  const scope = eventScopeOf(request.principal);
  if (!scope) throw new ForbiddenError();
  return scope;
}

function entityStateToGraphQL(state: EntityStateAt) {
  return { ...state, asOf: state.asOf.toISOString(), event: auditEventToGraphQL(state.event) };
}

export interface EntityArgs {
  entityType: string;
  entityId: string;
}

/** An entity's type and id from a query's arguments, checked as text. */
export function entityOf(args: EntityArgs): EntityArgs {
  return {
    entityType: textArgument(args.entityType, 'entityType'),
    entityId: textArgument(args.entityId, 'entityId'),
  };
}

/** The read side of the log: lists, an entity's history, its state at a moment and between two. */
export const historyResolvers = {
  Query: {
    auditEvents: (_: unknown, args: AuditEventsArgs, { db, request }: HistoryContext) =>
      auditEventsPage(db, scopeOf(request), args),
    entityHistory: (_: unknown, args: EntityHistoryArgs, { db, request }: HistoryContext) =>
      entityHistoryPage(db, scopeOf(request), args),
    entityAt: async (_: unknown, args: EntityArgs & { asOf: string }, { db, request }: HistoryContext) => {
      const { entityType, entityId } = entityOf(args);
      const asOf = parseInstant(args.asOf, 'asOf');
      const state = await entityStateAt(db, entityType, entityId, asOf, scopeOf(request));
      return state && entityStateToGraphQL(state);
    },
    entityDiff: async (
      _: unknown,
      args: EntityArgs & { from: string; to: string },
      { db, request }: HistoryContext,
    ) => {
      const { entityType, entityId } = entityOf(args);
      const from = parseInstant(args.from, 'from');
      const to = parseInstant(args.to, 'to');
      if (from.getTime() > to.getTime()) throw new BadUserInputError('from must not be after to', 'from');
      const scope = scopeOf(request);
      const before = await entityStateAt(db, entityType, entityId, from, scope);
      const after = await entityStateAt(db, entityType, entityId, to, scope);
      if (!before && !after) return null;
      return {
        before: before && entityStateToGraphQL(before),
        after: after && entityStateToGraphQL(after),
        changes: diffStates(before?.state ?? {}, after?.state ?? {}),
      };
    },
  },
  Device: {
    __resolveReference: (reference: { id: string }) => ({ id: reference.id }),
    // Any signed-in caller may ask for any device's history: it gets only the events it may read.
    history: async (device: { id: string }, _: unknown, { db, request }: HistoryContext) => {
      const scope = eventScopeOf(request.principal);
      if (!scope) return [];
      const rows = await withLinks(db, entityEvents(db, scope, 'device', device.id));
      return rows.map((row) => auditEventToGraphQL(recordedEventOf(row)));
    },
  },
} satisfies GraphQLResolverMap<HistoryContext>;
