import type { Principal } from './principal.js';

/**
 * Who may do what, decided from the principal the gateway signed: its tenant and its scopes.
 * Platform operators act across tenants (`platform:read` for reading, `platform:admin` for
 * everything); everyone else only inside their own tenant.
 */

const READ_SCOPES = new Set(['tenant:read', 'members:read', 'devices:read', 'billing:read', 'audit:read']);

export function isPlatformAdmin(principal: Principal): boolean {
  return principal.kind === 'user' && principal.scopes.includes('platform:admin');
}

export function isPlatformReader(principal: Principal): boolean {
  return (
    principal.kind === 'user' && (principal.scopes.includes('platform:read') || isPlatformAdmin(principal))
  );
}

/** Whether the principal holds `scope` for the given tenant. */
export function hasScopeIn(principal: Principal, scope: string, tenantId: string): boolean {
  if (principal.kind === 'anonymous') return false;
  if (isPlatformAdmin(principal)) return true;
  if (READ_SCOPES.has(scope) && isPlatformReader(principal)) return true;
  return principal.tenantId === tenantId && principal.scopes.includes(scope);
}

/** Whether the principal is this user, signed in (not an API key). */
export function isSelf(principal: Principal, userId: string): boolean {
  return principal.kind === 'user' && principal.userId === userId;
}
