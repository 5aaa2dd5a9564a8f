import type { AuditContext } from '../audit-context.js';
import { entityOf, type EntityArgs } from '../history/history-resolvers.js';
import { parseInstant } from '../history/instant.js';
import { restoreEntity } from './restore-entity.js';

export const restoreResolvers = {
  Mutation: {
    restoreEntity: (_: unknown, args: EntityArgs & { asOf: string }, context: AuditContext) =>
      restoreEntity(context.db, context.owners, context.request, {
        ...entityOf(args),
        asOf: parseInstant(args.asOf, 'asOf'),
      }),
  },
};
