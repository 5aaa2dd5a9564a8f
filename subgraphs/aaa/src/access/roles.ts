/**
 * Roles and the scopes they grant. A role belongs to a membership (a user in a tenant); a scope
 * is what a token or an API key carries, and what the gateway and the subgraphs check.
 */

export const TENANT_ROLES = ['owner', 'admin', 'operator', 'viewer', 'auditor', 'billing'] as const;
export type TenantRole = (typeof TENANT_ROLES)[number];

/** Roles of the platform tenant's members: the people who run the platform itself. */
export const PLATFORM_ROLES = ['platform-admin', 'platform-operator'] as const;
export type PlatformRole = (typeof PLATFORM_ROLES)[number];

export type Role = TenantRole | PlatformRole;

/** Scopes a tenant's members and API keys can hold. */
export const TENANT_SCOPES = [
  'tenant:read',
  'members:read',
  'members:write',
  'api-keys:write',
  'devices:read',
  'devices:write',
  'billing:read',
  'billing:write',
  // A tenant's invoices: its owners and billing people, not every admin.
  'invoices:read',
  'audit:read',
  // Restoring an entity through audit: the owning service still checks its own write scope.
  'audit:restore',
] as const;
export type TenantScope = (typeof TENANT_SCOPES)[number];

/** Scopes only platform operators hold. */
export const PLATFORM_SCOPES = ['platform:read', 'platform:admin'] as const;

/** A session limited to enrolling a second factor, when the tenant requires one. */
export const MFA_ENROLL_SCOPE = 'mfa:enroll';

const GRANTS: Record<Role, readonly string[]> = {
  owner: TENANT_SCOPES,
  admin: [
    'tenant:read',
    'members:read',
    'members:write',
    'api-keys:write',
    'devices:read',
    'devices:write',
    'billing:read',
    'audit:read',
    'audit:restore',
  ],
  operator: ['tenant:read', 'devices:read', 'devices:write'],
  viewer: ['tenant:read', 'devices:read'],
  auditor: ['tenant:read', 'devices:read', 'audit:read', 'members:read'],
  billing: ['tenant:read', 'billing:read', 'billing:write', 'invoices:read'],
  'platform-admin': [...TENANT_SCOPES, ...PLATFORM_SCOPES],
  'platform-operator': ['platform:read', 'tenant:read', 'members:read', 'devices:read', 'audit:read'],
};

/** The scopes a set of roles grants, sorted and without repeats. */
export function scopesOf(roles: readonly string[]): string[] {
  const scopes = new Set<string>();
  for (const role of roles) for (const scope of GRANTS[role as Role] ?? []) scopes.add(scope);
  return [...scopes].sort();
}

export function isTenantRole(role: string): role is TenantRole {
  return (TENANT_ROLES as readonly string[]).includes(role);
}

export function isPlatformRole(role: string): role is PlatformRole {
  return (PLATFORM_ROLES as readonly string[]).includes(role);
}
