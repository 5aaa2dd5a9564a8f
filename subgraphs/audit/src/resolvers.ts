import type { Kysely } from 'kysely';
import { BadUserInputError, jsonScalar, type SignedRequest } from '@fleet/service-kit';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper/index.js';
import { canSeeEvent } from './access/policy.js';
import type { AuditDatabase } from './database/schema.js';
import { entityHistory, listEvents, toOutboxEvent, verifyChain, type EventRow } from './history/event-log.js';

export interface AuditContext {
  db: Kysely<AuditDatabase>;
  request: SignedRequest;
}

function toGraphQL(row: EventRow) {
  return {
    ...toOutboxEvent(row),
    position: String(row.position),
    recordedAt: row.recorded_at.toISOString(),
    previousHash: row.previous_hash,
    hash: row.hash,
  };
}

function parsePosition(value: string | null | undefined): number {
  if (value === null || value === undefined) return 0;
  if (!/^\d{1,15}$/.test(value))
    throw new BadUserInputError('afterPosition must be a decimal position', 'afterPosition');
  return Number(value);
}

export const resolvers: GraphQLResolverMap<AuditContext> = {
  JSON: jsonScalar,
  Query: {
    auditEvents: async (
      _: unknown,
      args: { afterPosition?: string | null; limit: number },
      { db }: AuditContext,
    ) => {
      if (!Number.isInteger(args.limit) || args.limit < 1 || args.limit > 500) {
        throw new BadUserInputError('limit must be between 1 and 500', 'limit');
      }
      const rows = await listEvents(db, parsePosition(args.afterPosition), args.limit);
      return rows.map(toGraphQL);
    },
    verifyAuditChain: async (_: unknown, __: unknown, { db }: AuditContext) => {
      const result = await verifyChain(db);
      return {
        ok: result.ok,
        checked: result.checked,
        firstBrokenPosition: result.firstBrokenPosition === null ? null : String(result.firstBrokenPosition),
      };
    },
  },
  Device: {
    __resolveReference: (reference: { id: string }) => ({ id: reference.id }),
    // Any signed-in caller may ask for any device's history: it gets only the events it may read.
    history: async (device: { id: string }, _: unknown, { db, request }: AuditContext) =>
      (await entityHistory(db, 'device', device.id))
        .filter((row) => canSeeEvent(request.principal, row.tenant_id))
        .map(toGraphQL),
  },
};
