import { isSelf, type Principal } from '@fleet/service-kit';

/**
 * Personal data: only the person and the administrators of their own tenant, signed in as
 * people. Platform operators administer tenants, not their members' personal data.
 */
export function canSeePersonalData(principal: Principal, user: { id: string; tenantId: string }): boolean {
  if (isSelf(principal, user.id)) return true;
  return (
    principal.kind === 'user' &&
    principal.tenantId === user.tenantId &&
    principal.scopes.includes('members:write')
  );
}
