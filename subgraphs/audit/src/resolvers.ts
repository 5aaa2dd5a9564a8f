import type { Kysely } from 'kysely';
import { jsonScalar, type SignedRequest } from '@fleet/service-kit';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper/index.js';
import type { CheckpointSigner } from './chain/checkpoint-signer.js';
import { verifyAuditLog } from './chain/verify-log.js';
import type { AuditDatabase } from './database/schema.js';
import { historyResolvers } from './history/history-resolvers.js';

export interface AuditContext {
  db: Kysely<AuditDatabase>;
  request: SignedRequest;
  signer: CheckpointSigner;
}

/** The subgraph's resolvers: each domain's map, merged type by type. */
export const resolvers: GraphQLResolverMap<AuditContext> = {
  JSON: jsonScalar,
  Query: {
    ...historyResolvers.Query,
    verifyAuditChain: async (_: unknown, __: unknown, { db, signer }: AuditContext) => {
      const result = await verifyAuditLog(db, signer.publicKeys);
      return {
        ok: result.ok,
        checked: result.checked,
        firstBrokenPosition: result.firstBrokenPosition === null ? null : String(result.firstBrokenPosition),
      };
    },
  },
  Device: historyResolvers.Device,
};
