import { randomBytes } from 'node:crypto';
import { callGateway, type Federation } from '@fleet/launcher';

/** A GraphQL call through a gateway, failing loudly on any error (the launcher's own client). */
export const graphql = callGateway;

export const LOGIN = 'mutation($i: LoginInput!) { login(input: $i) { accessToken } }';
const ACTIVATE = 'mutation($i: ActivateAccountInput!) { activateAccount(input: $i) }';

/** Activates the first platform administrator of a new federation and signs them in. */
export async function signInAdmin(federation: Federation): Promise<string> {
  const admin = federation.initialAdmin;
  if (!admin)
    throw new Error('The federation did not create its first administrator (not a new data directory?)');
  const password = `Operator ${randomBytes(12).toString('base64url')}`;
  const url = federation.gatewayUrl;
  await graphql(url, ACTIVATE, {
    i: { tenant: admin.tenant, email: admin.email, code: admin.activationCode, password },
  });
  const login = await graphql<{ login: { accessToken: string } }>(url, LOGIN, {
    i: { tenant: admin.tenant, email: admin.email, password },
  });
  return login.login.accessToken;
}

/** Creates a tenant and returns its id. */
export async function createTenant(url: string, adminToken: string, slug: string): Promise<string> {
  const created = await graphql<{ createTenant: { id: string } }>(
    url,
    'mutation($i: CreateTenantInput!) { createTenant(input: $i) { id } }',
    { i: { name: slug, slug } },
    adminToken,
  );
  return created.createTenant.id;
}

/** Puts a tenant on a plan, as a platform administrator: a fleet beyond the free plan needs one. */
export async function choosePlan(
  url: string,
  adminToken: string,
  tenantId: string,
  planId: string,
): Promise<void> {
  await graphql(
    url,
    'mutation($t: ID!, $p: ID!) { changeTenantPlan(tenantId: $t, planId: $p) { id } }',
    { t: tenantId, p: planId },
    adminToken,
  );
}

/** Invites a member with these roles and activates the account; returns how to sign in. */
export async function addMember(
  url: string,
  adminToken: string,
  tenant: { id: string; slug: string },
  email: string,
  roles: string[],
): Promise<{ tenant: string; email: string; password: string }> {
  const invited = await graphql<{ createMember: { activationCode: string } }>(
    url,
    'mutation($i: CreateMemberInput!) { createMember(input: $i) { activationCode } }',
    { i: { tenantId: tenant.id, email, fullName: 'Bench member', roles } },
    adminToken,
  );
  const password = `Member ${randomBytes(9).toString('base64url')}`;
  await graphql(url, ACTIVATE, {
    i: { tenant: tenant.slug, email, code: invited.createMember.activationCode, password },
  });
  return { tenant: tenant.slug, email, password };
}
