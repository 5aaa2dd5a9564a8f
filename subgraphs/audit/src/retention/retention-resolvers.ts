import { BadUserInputError } from '@fleet/service-kit';
import { auditTenantOf } from '../access/policy.js';
import type { AuditContext } from '../audit-context.js';
import type { Selectable } from 'kysely';
import type { AuditDatabase } from '../database/schema.js';
import type { Seal } from './retention-sealer.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function sealOut(seal: Seal & { createdAt?: string }) {
  return {
    ...seal,
    fromPosition: String(seal.fromPosition),
    toPosition: String(seal.toPosition),
    checkpointPosition: String(seal.checkpointPosition),
    createdAt: seal.createdAt ?? new Date().toISOString(),
  };
}

function sealOfRow(row: Selectable<AuditDatabase['audit_seal']>) {
  return sealOut({
    id: row.id,
    tenantId: row.tenant_id,
    recordedBefore: row.recorded_before.toISOString(),
    fromPosition: row.from_position,
    toPosition: row.to_position,
    events: row.events,
    exportFile: row.export_file,
    exportSha256: row.export_sha256,
    checkpointPosition: row.checkpoint_position,
    createdAt: row.created_at.toISOString(),
  });
}

function tenantArgument(tenantId: string | null | undefined): string | null {
  if (tenantId == null) return null;
  if (!UUID.test(tenantId)) throw new BadUserInputError('tenantId must be a UUID', 'tenantId');
  return tenantId.toLowerCase();
}

export const retentionResolvers = {
  Query: {
    auditRetention: async (_: unknown, args: { tenantId?: string | null }, context: AuditContext) => {
      const tenantId = auditTenantOf(context.request.principal, tenantArgument(args.tenantId));
      return { tenantId, ...(await context.retention.of(tenantId)) };
    },
    auditSeals: async (
      _: unknown,
      args: { tenantId?: string | null; first: number },
      context: AuditContext,
    ) => {
      if (!Number.isInteger(args.first) || args.first < 1 || args.first > 500)
        throw new BadUserInputError('first must be between 1 and 500', 'first');
      const tenantId = auditTenantOf(context.request.principal, tenantArgument(args.tenantId));
      const rows = await context.db
        .selectFrom('audit_seal')
        .selectAll()
        .where((eb) => (tenantId === null ? eb('tenant_id', 'is', null) : eb('tenant_id', '=', tenantId)))
        .orderBy('created_at', 'desc')
        .limit(args.first)
        .execute();
      return rows.map(sealOfRow);
    },
  },
  Mutation: {
    setAuditRetention: async (
      _: unknown,
      args: { tenantId?: string | null; days?: number | null },
      context: AuditContext,
    ) => {
      const tenantId = tenantArgument(args.tenantId);
      const days = args.days ?? null;
      if (days !== null && (!Number.isInteger(days) || days < 1 || days > 36_500))
        throw new BadUserInputError('days must be between 1 and 36500, or null', 'days');
      await context.retention.set(tenantId, days);
      context.request.logger.info({ tenantId, days }, 'audit retention changed');
      return { tenantId, ...(await context.retention.of(tenantId)) };
    },
    enforceAuditRetention: async (_: unknown, __: unknown, context: AuditContext) =>
      (await context.sealer.enforce()).map((seal) => sealOut(seal)),
  },
};
