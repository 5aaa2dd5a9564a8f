import { allow, and, deny, rule, shield } from 'graphql-shield';
import { ForbiddenError, type Principal } from '@fleet/service-kit';
import { hasScopeIn, isPlatformAdmin, isPlatformReader, isSelf } from '@fleet/service-kit';
import { canSeePersonalData } from './policy.js';
import { MFA_ENROLL_SCOPE } from './roles.js';

/** What the rules read from the context: the principal the gateway signed. */
interface RuleContext {
  principal: Principal;
}

interface UserParent {
  id: string;
  tenantId: string;
}

interface MembershipParent {
  tenantId: string;
  userId: string;
}

const isSignedIn = rule({ cache: 'contextual' })(
  (_parent, _args, ctx: RuleContext) => ctx.principal.kind !== 'anonymous',
);

/** A person with a full session (not one restricted to enrolling a second factor). */
const isPerson = rule({ cache: 'contextual' })(
  (_parent, _args, ctx: RuleContext) =>
    ctx.principal.kind === 'user' && !ctx.principal.scopes.includes(MFA_ENROLL_SCOPE),
);

/** A person, restricted session or not: enough to enrol a second factor or sign out. */
const isAnyPerson = rule({ cache: 'contextual' })(
  (_parent, _args, ctx: RuleContext) => ctx.principal.kind === 'user',
);

const platformAdmin = rule({ cache: 'contextual' })((_parent, _args, ctx: RuleContext) =>
  isPlatformAdmin(ctx.principal),
);

const platformReader = rule({ cache: 'contextual' })((_parent, _args, ctx: RuleContext) =>
  isPlatformReader(ctx.principal),
);

/** The scope in the tenant an argument names. */
function scopeInArgument(scope: string, tenantOf: (args: Record<string, unknown>) => unknown) {
  return rule({ cache: 'no_cache' })((_parent, args: Record<string, unknown>, ctx: RuleContext) => {
    const tenantId = tenantOf(args);
    return typeof tenantId === 'string' && hasScopeIn(ctx.principal, scope, tenantId);
  });
}

const tenantArg = (args: Record<string, unknown>) => args.tenantId ?? args.id;
const inputTenantArg = (args: Record<string, unknown>) =>
  (args.input as { tenantId?: unknown } | undefined)?.tenantId;

/** Every object is checked against the caller's tenant, whichever path reached it. */
const tenantVisible = rule({ cache: 'no_cache' })((parent: { id: string }, _args, ctx: RuleContext) =>
  hasScopeIn(ctx.principal, 'tenant:read', parent.id),
);
const tenantMembersVisible = rule({ cache: 'no_cache' })((parent: { id: string }, _args, ctx: RuleContext) =>
  hasScopeIn(ctx.principal, 'members:read', parent.id),
);
const tenantApiKeysVisible = rule({ cache: 'no_cache' })((parent: { id: string }, _args, ctx: RuleContext) =>
  hasScopeIn(ctx.principal, 'api-keys:write', parent.id),
);
const userVisible = rule({ cache: 'no_cache' })(
  (parent: UserParent, _args, ctx: RuleContext) =>
    isSelf(ctx.principal, parent.id) || hasScopeIn(ctx.principal, 'members:read', parent.tenantId),
);
const personalDataVisible = rule({ cache: 'no_cache' })((parent: UserParent, _args, ctx: RuleContext) =>
  canSeePersonalData(ctx.principal, parent),
);
const membershipVisible = rule({ cache: 'no_cache' })(
  (parent: MembershipParent, _args, ctx: RuleContext) =>
    isSelf(ctx.principal, parent.userId) || hasScopeIn(ctx.principal, 'members:read', parent.tenantId),
);

/**
 * aaa's authorization, as graphql-shield rules over its schema: everything not listed here is
 * denied. The gateway decides first; this is the subgraph's own decision, never skipped.
 * Resolvers add the checks that need a database row (whose tenant a session or key is in).
 */
export const permissions = shield(
  {
    Query: {
      _service: allow,
      _entities: allow,
      me: isAnyPerson,
      tenant: scopeInArgument('tenant:read', tenantArg),
      tenants: platformReader,
      user: isPerson,
      sessions: isAnyPerson,
    },
    Mutation: {
      login: allow,
      refreshSession: allow,
      activateAccount: allow,
      logout: isAnyPerson,
      revokeSession: isPerson,
      createTenant: platformAdmin,
      setTenantMfaRequired: scopeInArgument('members:write', tenantArg),
      createMember: scopeInArgument('members:write', inputTenantArg),
      reissueActivation: isPerson,
      setMemberRoles: scopeInArgument('members:write', tenantArg),
      removeMember: scopeInArgument('members:write', tenantArg),
      eraseUser: isPerson,
      updateProfile: isPerson,
      changePassword: isPerson,
      beginTotpEnrollment: isAnyPerson,
      confirmTotpEnrollment: isAnyPerson,
      disableTotp: isPerson,
      createApiKey: and(isPerson, scopeInArgument('api-keys:write', inputTenantArg)),
      revokeApiKey: isPerson,
      rotateKeyEncryptionKey: platformAdmin,
    },
    _Service: allow,
    Tenant: {
      '*': tenantVisible,
      members: tenantMembersVisible,
      apiKeys: tenantApiKeysVisible,
    },
    User: {
      '*': userVisible,
      email: personalDataVisible,
      fullName: personalDataVisible,
      phone: personalDataVisible,
    },
    Membership: membershipVisible,
    Session: isAnyPerson,
    ApiKey: isSignedIn,
    TokenPair: allow,
    MemberInvitation: isPerson,
    TotpEnrollment: isAnyPerson,
    CreatedApiKey: isPerson,
    KeyRotation: platformAdmin,
  },
  {
    fallbackRule: deny,
    fallbackError: () => new ForbiddenError(),
    allowExternalErrors: true,
    debug: false,
  },
);
