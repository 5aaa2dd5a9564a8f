import { BadUserInputError } from '@fleet/service-kit';
import { auditTenantOf } from '../access/policy.js';
import type { AuditContext } from '../audit-context.js';
import { positionArgument } from '../store/positions.js';
import { exportLines, planExport } from './export-log.js';

interface ExportArgs {
  fromPosition?: string | null;
  toPosition?: string | null;
  tenantId?: string | null;
}

export const exportResolvers = {
  Query: {
    auditExport: async (_: unknown, args: ExportArgs, context: AuditContext) => {
      const tenantId = auditTenantOf(context.request.principal, args.tenantId);
      const from = positionArgument(args.fromPosition, 'fromPosition') ?? 1;
      const to = positionArgument(args.toPosition, 'toPosition') ?? from + context.exportMaxPositions - 1;
      if (to < from) throw new BadUserInputError('toPosition must not be before fromPosition', 'toPosition');
      if (to - from + 1 > context.exportMaxPositions)
        throw new BadUserInputError(
          `An export holds at most ${context.exportMaxPositions} positions: ask for the rest from the next one`,
          'toPosition',
        );
      const plan = await planExport(context.db, context.chain, { from, to });
      if (!plan) return null;
      let ndjson = '';
      for await (const text of exportLines(context.db, plan, tenantId)) ndjson += text;
      const head = await context.db.selectFrom('chain_head').select('position').executeTakeFirstOrThrow();
      return {
        fromPosition: String(plan.fromPosition),
        toPosition: String(plan.toPosition),
        tenantId,
        ndjson,
        nextFromPosition: plan.toPosition < head.position ? String(plan.toPosition + 1) : null,
      };
    },
  },
};
