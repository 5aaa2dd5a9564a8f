import { hasScopeIn, isPlatformReader, type Principal } from '@fleet/service-kit';

/**
 * Whether the principal may see an event of the given tenant: with `audit:read` in that tenant
 * (platform readers hold it everywhere). An event of no tenant, such as a platform operator's
 * own, is for platform readers only. Both the AuditEvent rule and the history resolver decide
 * with this, so that a list never holds an event the caller could not read on its own.
 */
export function canSeeEvent(principal: Principal, tenantId: string | null | undefined): boolean {
  if (typeof tenantId !== 'string') return isPlatformReader(principal);
  return hasScopeIn(principal, 'audit:read', tenantId);
}
