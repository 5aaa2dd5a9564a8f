import { ForbiddenError, hasScopeIn, isPlatformReader, type Principal } from '@fleet/service-kit';

/**
 * The tenant a request about the log is answered for. Platform readers may name any tenant, or
 * none (every tenant: `null`); anyone else gets their own tenant, with audit:read there, and
 * naming another is refused.
 */
export function auditTenantOf(principal: Principal, requested: string | null | undefined): string | null {
  if (isPlatformReader(principal)) return requested ?? null;
  const own = principal.kind === 'anonymous' ? null : principal.tenantId;
  if (own === null || !hasScopeIn(principal, 'audit:read', own))
    throw new ForbiddenError('Reading the audit log needs audit:read');
  if (requested != null && requested.toLowerCase() !== own)
    throw new ForbiddenError("Only your own tenant's audit log can be read");
  return own;
}
