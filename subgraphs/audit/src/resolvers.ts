import type { Kysely } from 'kysely';
import { BadUserInputError, jsonScalar } from '@fleet/service-kit';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper/index.js';
import { canSeeEvent } from './access/policy.js';
import type { AuditContext } from './audit-context.js';
import { chainResolvers } from './chain/chain-resolvers.js';
import { exportResolvers } from './export/export-resolvers.js';
import { retentionResolvers } from './retention/retention-resolvers.js';
import { verifyAuditLog } from './chain/verify-log.js';
import type { AuditDatabase } from './database/schema.js';
import { chainedEventOf, type EventRow } from './store/event-rows.js';

export type { AuditContext } from './audit-context.js';

function toGraphQL(row: EventRow & { previous_hash: string; hash: string }) {
  const event = chainedEventOf(row);
  return { ...event, position: String(row.position), previousHash: row.previous_hash, hash: row.hash };
}

function parsePosition(value: string | null | undefined): number {
  if (value === null || value === undefined) return 0;
  if (!/^\d{1,15}$/.test(value))
    throw new BadUserInputError('afterPosition must be a decimal position', 'afterPosition');
  return Number(value);
}

function eventsQuery(db: Kysely<AuditDatabase>) {
  return db
    .selectFrom('audit_event as e')
    .innerJoin('audit_link as l', 'l.position', 'e.position')
    .selectAll('e')
    .select(['l.previous_hash', 'l.hash']);
}

export const resolvers: GraphQLResolverMap<AuditContext> = {
  JSON: jsonScalar,
  Mutation: { ...retentionResolvers.Mutation },
  Query: {
    ...chainResolvers.Query,
    ...exportResolvers.Query,
    ...retentionResolvers.Query,
    auditEvents: async (
      _: unknown,
      args: { afterPosition?: string | null; limit: number },
      { db }: AuditContext,
    ) => {
      if (!Number.isInteger(args.limit) || args.limit < 1 || args.limit > 500) {
        throw new BadUserInputError('limit must be between 1 and 500', 'limit');
      }
      const rows = await eventsQuery(db)
        .where('e.position', '>', parsePosition(args.afterPosition))
        .orderBy('e.position')
        .limit(args.limit)
        .execute();
      return rows.map(toGraphQL);
    },
    verifyAuditChain: async (_: unknown, __: unknown, { db, signer }: AuditContext) => {
      const result = await verifyAuditLog(db, signer.publicKeys);
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
      (
        await eventsQuery(db)
          .where('e.aggregate_type', '=', 'device')
          .where('e.aggregate_id', '=', device.id)
          .orderBy('e.sequence')
          .execute()
      )
        .filter((row) => canSeeEvent(request.principal, row.tenant_id))
        .map(toGraphQL),
  },
};
