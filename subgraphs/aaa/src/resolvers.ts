import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper/index.js';
import { ForbiddenError, NotFoundError, type Principal, type SignedRequest } from '@fleet/service-kit';
import { hasScopeIn, isPlatformAdmin, isSelf } from '@fleet/service-kit';
import type { ApiKeyRow, ApiKeyStore } from './api-keys/api-key-store.js';
import type { MemberDirectory, MembershipRow, UserRow } from './members/member-directory.js';
import type { MfaEnrollment } from './mfa/mfa-enrollment.js';
import type { Login, LoginInput } from './sessions/login.js';
import type { SessionRow, SessionStore, TokenPair } from './sessions/session-store.js';
import { keyServiceCall, type TenantDirectory, type TenantRow } from './tenants/tenant-directory.js';
import type { PiiVault } from './vault/pii-vault.js';

export interface AaaContext {
  request: SignedRequest;
  principal: Principal;
  tenants: TenantDirectory;
  members: MemberDirectory;
  sessions: SessionStore;
  login: Login;
  mfa: MfaEnrollment;
  apiKeys: ApiKeyStore;
  vault: PiiVault;
}

type Args<T> = T;

const tenantOut = (t: TenantRow) => ({
  id: t.id,
  name: t.name,
  slug: t.slug,
  mfaRequired: t.mfa_required,
  createdAt: t.created_at.toISOString(),
});

interface UserOut {
  id: string;
  tenantId: string;
  status: string;
  mfaEnabled: boolean;
  createdAt: string;
  row: UserRow;
}

const userOut = (u: UserRow): UserOut => ({
  id: u.id,
  tenantId: u.tenant_id,
  status: u.status.toUpperCase(),
  mfaEnabled: u.mfa_enrolled_at !== null,
  createdAt: u.created_at.toISOString(),
  row: u,
});

const membershipOut = (m: MembershipRow) => ({ tenantId: m.tenant_id, userId: m.user_id, roles: m.roles });

const sessionOut = (s: SessionRow, principal: Principal) => ({
  id: s.id,
  createdAt: s.created_at.toISOString(),
  refreshedAt: s.refreshed_at.toISOString(),
  expiresAt: s.expires_at.toISOString(),
  current: principal.kind === 'user' && principal.sessionId === s.id,
});

const apiKeyOut = (k: ApiKeyRow) => ({
  id: k.id,
  name: k.name,
  prefix: k.prefix,
  lastFour: k.last_four,
  scopes: k.scopes,
  trustedDocuments: k.document_hashes,
  createdAt: k.created_at.toISOString(),
  expiresAt: k.expires_at.toISOString(),
  revokedAt: k.revoked_at?.toISOString() ?? null,
  lastUsedAt: k.last_used_at?.toISOString() ?? null,
});

const tokensOut = (t: TokenPair) => ({
  accessToken: t.accessToken,
  accessTokenExpiresAt: t.accessTokenExpiresAt.toISOString(),
  refreshToken: t.refreshToken,
  sessionId: t.sessionId,
  restrictedTo: t.restrictedTo,
});

/** The signed-in person, or a refusal: the shield has let only people through to these. */
function person(ctx: AaaContext): Principal & { kind: 'user' } {
  if (ctx.principal.kind !== 'user') throw new ForbiddenError();
  return ctx.principal;
}

/** A user the caller may see, or undefined: users of other tenants do not exist for them. */
async function visibleUser(ctx: AaaContext, id: string): Promise<UserRow | undefined> {
  const user = await ctx.members.getUser(id);
  if (!user) return undefined;
  const visible = isSelf(ctx.principal, user.id) || hasScopeIn(ctx.principal, 'members:read', user.tenant_id);
  return visible ? user : undefined;
}

/** A user the caller administers (members:write in the user's tenant), or NOT_FOUND. */
async function administeredUser(ctx: AaaContext, id: string): Promise<UserRow> {
  const user = await ctx.members.getUser(id);
  if (!user || !hasScopeIn(ctx.principal, 'members:write', user.tenant_id)) throw new NotFoundError('User');
  return user;
}

async function profileField(user: UserOut, ctx: AaaContext, field: 'email' | 'fullName' | 'phone') {
  const profile = await ctx.members.profileOf(user.row);
  return profile ? profile[field] : null;
}

export const resolvers: GraphQLResolverMap<AaaContext> = {
  Query: {
    me: async (_: unknown, __: unknown, ctx: AaaContext) => {
      const user = await ctx.members.getUser(person(ctx).userId);
      return user ? userOut(user) : null;
    },
    tenant: async (_: unknown, args: Args<{ id: string }>, ctx: AaaContext) => {
      const tenant = await ctx.tenants.getTenant(args.id);
      return tenant ? tenantOut(tenant) : null;
    },
    tenants: async (_: unknown, __: unknown, ctx: AaaContext) =>
      (await ctx.tenants.listTenants()).map(tenantOut),
    user: async (_: unknown, args: Args<{ id: string }>, ctx: AaaContext) => {
      const user = await visibleUser(ctx, args.id);
      return user ? userOut(user) : null;
    },
    sessions: async (_: unknown, __: unknown, ctx: AaaContext) =>
      (await ctx.sessions.listOf(person(ctx).userId)).map((s) => sessionOut(s, ctx.principal)),
  },
  Mutation: {
    login: async (_: unknown, args: Args<{ input: LoginInput }>, ctx: AaaContext) =>
      tokensOut(await keyServiceCall(() => ctx.login.login(args.input, ctx.request.clientAddress))),
    refreshSession: async (_: unknown, args: Args<{ refreshToken: string }>, ctx: AaaContext) =>
      tokensOut(await ctx.sessions.refresh(args.refreshToken)),
    activateAccount: async (
      _: unknown,
      args: Args<{ input: { tenant: string; email: string; code: string; password: string } }>,
      ctx: AaaContext,
    ) => {
      await ctx.members.activate(args.input);
      return true;
    },
    logout: async (_: unknown, __: unknown, ctx: AaaContext) => {
      const principal = person(ctx);
      await ctx.sessions.revoke(principal.sessionId, 'logout', principal);
      return true;
    },
    revokeSession: async (_: unknown, args: Args<{ id: string }>, ctx: AaaContext) => {
      const principal = person(ctx);
      const session = await ctx.sessions.get(args.id);
      const allowed =
        session &&
        (session.user_id === principal.userId || hasScopeIn(principal, 'members:write', session.tenant_id));
      if (!session || !allowed) throw new NotFoundError('Session');
      await ctx.sessions.revoke(
        session.id,
        session.user_id === principal.userId ? 'revoked' : 'revoked-by-admin',
        principal,
      );
      return true;
    },
    createTenant: async (
      _: unknown,
      args: Args<{ input: { name: string; slug: string; mfaRequired?: boolean | null } }>,
      ctx: AaaContext,
    ) => tenantOut(await ctx.tenants.createTenant(args.input, ctx.principal)),
    setTenantMfaRequired: async (
      _: unknown,
      args: Args<{ tenantId: string; required: boolean }>,
      ctx: AaaContext,
    ) => {
      const tenant = await ctx.tenants.getTenant(args.tenantId);
      if (!tenant) throw new NotFoundError('Tenant');
      return tenantOut(await ctx.tenants.setMfaRequired(tenant.id, args.required, ctx.principal));
    },
    createMember: async (
      _: unknown,
      args: Args<{
        input: { tenantId: string; email: string; fullName: string; phone?: string | null; roles: string[] };
      }>,
      ctx: AaaContext,
    ) => {
      const tenant = await ctx.tenants.getTenant(args.input.tenantId);
      const created = await ctx.members.createMember(args.input, ctx.principal, {
        platformRolesAllowed: tenant?.kind === 'platform' && isPlatformAdmin(ctx.principal),
      });
      return {
        user: userOut(created.user),
        activationCode: created.activationCode,
        activationExpiresAt: created.activationExpiresAt.toISOString(),
      };
    },
    reissueActivation: async (_: unknown, args: Args<{ userId: string }>, ctx: AaaContext) => {
      const user = await administeredUser(ctx, args.userId);
      const issued = await ctx.members.reissueActivation(user.id, ctx.principal);
      return {
        user: userOut(user),
        activationCode: issued.activationCode,
        activationExpiresAt: issued.activationExpiresAt.toISOString(),
      };
    },
    setMemberRoles: async (
      _: unknown,
      args: Args<{ tenantId: string; userId: string; roles: string[] }>,
      ctx: AaaContext,
    ) => membershipOut(await ctx.members.setRoles(args.tenantId, args.userId, args.roles, ctx.principal)),
    removeMember: async (_: unknown, args: Args<{ tenantId: string; userId: string }>, ctx: AaaContext) => {
      await ctx.members.removeMember(args.tenantId, args.userId, ctx.principal);
      return true;
    },
    eraseUser: async (_: unknown, args: Args<{ userId: string }>, ctx: AaaContext) => {
      const user = await administeredUser(ctx, args.userId);
      return userOut(await ctx.members.erase(user.id, ctx.principal));
    },
    updateProfile: async (
      _: unknown,
      args: Args<{ input: { fullName?: string | null; phone?: string | null } }>,
      ctx: AaaContext,
    ) => userOut(await ctx.members.updateProfile(person(ctx).userId, args.input, ctx.principal)),
    changePassword: async (
      _: unknown,
      args: Args<{ input: { currentPassword: string; newPassword: string } }>,
      ctx: AaaContext,
    ) => {
      const principal = person(ctx);
      await ctx.members.changePassword(principal.userId, args.input, principal);
      return true;
    },
    beginTotpEnrollment: async (_: unknown, __: unknown, ctx: AaaContext) =>
      ctx.mfa.begin(person(ctx).userId),
    confirmTotpEnrollment: async (_: unknown, args: Args<{ code: string }>, ctx: AaaContext) =>
      ctx.mfa.confirm(person(ctx).userId, args.code),
    disableTotp: async (_: unknown, args: Args<{ password: string }>, ctx: AaaContext) => {
      const principal = person(ctx);
      const tenant = principal.tenantId ? await ctx.tenants.getTenant(principal.tenantId) : undefined;
      await ctx.mfa.disable(principal.userId, args.password, tenant?.mfa_required ?? false);
      return true;
    },
    createApiKey: async (
      _: unknown,
      args: Args<{
        input: {
          tenantId: string;
          name: string;
          scopes: string[];
          expiresAt: string;
          trustedDocuments?: string[] | null;
        };
      }>,
      ctx: AaaContext,
    ) => {
      const created = await ctx.apiKeys.create(args.input, ctx.principal);
      return { apiKey: apiKeyOut(created.apiKey), key: created.key };
    },
    revokeApiKey: async (_: unknown, args: Args<{ id: string }>, ctx: AaaContext) => {
      const key = await ctx.apiKeys.get(args.id);
      if (!key || !hasScopeIn(ctx.principal, 'api-keys:write', key.tenant_id))
        throw new NotFoundError('API key');
      return apiKeyOut(await ctx.apiKeys.revoke(key.id, ctx.principal));
    },
    rotateKeyEncryptionKey: async (_: unknown, __: unknown, ctx: AaaContext) => {
      const rotated = await keyServiceCall(() => ctx.vault.rotateKeyEncryptionKey(ctx.principal));
      return { tenantKeysRewrapped: rotated.rewrapped };
    },
  },
  Tenant: {
    __resolveReference: async (reference: { id: string }, ctx: AaaContext) => {
      const tenant = await ctx.tenants.getTenant(reference.id);
      return tenant ? tenantOut(tenant) : null;
    },
    members: async (tenant: { id: string }, _: unknown, ctx: AaaContext) =>
      (await ctx.members.membersOf(tenant.id)).map(membershipOut),
    apiKeys: async (tenant: { id: string }, _: unknown, ctx: AaaContext) =>
      (await ctx.apiKeys.listOf(tenant.id)).map(apiKeyOut),
  },
  User: {
    __resolveReference: async (reference: { id: string }, ctx: AaaContext) => {
      const user = await ctx.members.getUser(reference.id);
      return user ? userOut(user) : null;
    },
    tenant: async (user: UserOut, _: unknown, ctx: AaaContext) => {
      const tenant = await ctx.tenants.getTenant(user.tenantId);
      return tenant ? tenantOut(tenant) : null;
    },
    email: (user: UserOut, _: unknown, ctx: AaaContext) => profileField(user, ctx, 'email'),
    fullName: (user: UserOut, _: unknown, ctx: AaaContext) => profileField(user, ctx, 'fullName'),
    phone: (user: UserOut, _: unknown, ctx: AaaContext) => profileField(user, ctx, 'phone'),
    memberships: async (user: UserOut, _: unknown, ctx: AaaContext) =>
      (await ctx.members.membershipsOf(user.id)).map(membershipOut),
  },
  Membership: {
    tenant: async (membership: { tenantId: string }, _: unknown, ctx: AaaContext) => {
      const tenant = await ctx.tenants.getTenant(membership.tenantId);
      return tenant ? tenantOut(tenant) : null;
    },
    user: async (membership: { userId: string }, _: unknown, ctx: AaaContext) => {
      const user = await ctx.members.getUser(membership.userId);
      return user ? userOut(user) : null;
    },
  },
};
