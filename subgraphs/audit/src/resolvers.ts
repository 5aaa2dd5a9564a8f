import { jsonScalar } from '@fleet/service-kit';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper/index.js';
import type { AuditContext } from './audit-context.js';
import { chainResolvers } from './chain/chain-resolvers.js';
import { exportResolvers } from './export/export-resolvers.js';
import { historyResolvers } from './history/history-resolvers.js';
import { retentionResolvers } from './retention/retention-resolvers.js';
import { restoreResolvers } from './restore/restore-resolvers.js';

export type { AuditContext } from './audit-context.js';

/** The subgraph's resolvers: each domain's map, merged type by type. */
export const resolvers: GraphQLResolverMap<AuditContext> = {
  JSON: jsonScalar,
  Query: {
    ...historyResolvers.Query,
    ...chainResolvers.Query,
    ...exportResolvers.Query,
    ...retentionResolvers.Query,
  },
  Mutation: { ...retentionResolvers.Mutation, ...restoreResolvers.Mutation },
  Device: historyResolvers.Device,
};
