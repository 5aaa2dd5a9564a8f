import { BadUserInputError } from '@fleet/service-kit';
import type { AuditContext } from '../audit-context.js';
import { positionArgument } from '../store/positions.js';
import { verifyAuditLog } from './verify-log.js';

interface RangeArgs {
  fromPosition?: string | null;
  toPosition?: string | null;
}

export const chainResolvers = {
  Query: {
    verifyAuditLog: async (_: unknown, args: RangeArgs, { db, signer }: AuditContext) => {
      const from = positionArgument(args.fromPosition, 'fromPosition');
      const to = positionArgument(args.toPosition, 'toPosition');
      if (from !== undefined && to !== undefined && to < from)
        throw new BadUserInputError('toPosition must not be before fromPosition', 'toPosition');
      const result = await verifyAuditLog(db, signer.publicKeys, { from, to });
      return {
        ...result,
        fromPosition: String(result.fromPosition),
        toPosition: String(result.toPosition),
        firstBrokenPosition: result.firstBrokenPosition === null ? null : String(result.firstBrokenPosition),
      };
    },
    auditSigningKeys: (_: unknown, __: unknown, { signer }: AuditContext) =>
      signer.published().map((key) => ({ ...key, algorithm: 'Ed25519' })),
  },
};
