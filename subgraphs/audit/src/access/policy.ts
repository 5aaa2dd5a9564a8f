import { ForbiddenError, hasScopeIn, isPlatformReader, type Principal } from '@fleet/service-kit';

/**
 * Whether the principal may see an event of the given tenant: with `audit:read` in that tenant
 * (platform readers hold it everywhere). An event of no tenant, such as a platform operator's
 * own, is for platform readers only. Both the AuditEvent rule and the history resolvers decide
 * with this, so that a list never holds an event the caller could not read on its own.
 */
export function canSeeEvent(principal: Principal, tenantId: string | null | undefined): boolean {
  if (typeof tenantId !== 'string') return isPlatformReader(principal);
  return hasScopeIn(principal, 'audit:read', tenantId);
}

/**
 * The events a reader may list: every event (platform readers, those of no tenant included),
 * or only those of one tenant.
 */
export type EventScope = { readonly kind: 'all' } | { readonly kind: 'tenant'; readonly tenantId: string };

export const ALL_EVENTS: EventScope = Object.freeze({ kind: 'all' });

/**
 * The events the principal may list, or null when it may list none. Outside the platform, only
 * the caller's own tenant can hold `audit:read` for it (see hasScopeIn), so a tenant auditor's
 * scope is its tenant: the queries filter on it in SQL, and canSeeEvent still checks each event.
 */
export function eventScopeOf(principal: Principal): EventScope | null {
  if (isPlatformReader(principal)) return ALL_EVENTS;
  if (principal.kind === 'anonymous' || principal.tenantId === null) return null;
  return hasScopeIn(principal, 'audit:read', principal.tenantId)
    ? { kind: 'tenant', tenantId: principal.tenantId }
    : null;
}

/**
 * The tenant a request about the log as a whole (an export, retention, seals) is answered for:
 * platform readers may name any tenant, or none (null: every tenant); anyone else gets their own
 * tenant, and naming another is refused.
 */
export function auditTenantOf(principal: Principal, requested: string | null | undefined): string | null {
  const scope = eventScopeOf(principal);
  if (!scope) throw new ForbiddenError('Reading the audit log needs audit:read');
  if (scope.kind === 'all') return requested ?? null;
  if (requested != null && requested.toLowerCase() !== scope.tenantId)
    throw new ForbiddenError("Only your own tenant's audit log can be read");
  return scope.tenantId;
}
