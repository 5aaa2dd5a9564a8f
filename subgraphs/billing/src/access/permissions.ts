import { allow, deny, rule, shield, type IRules } from 'graphql-shield';
import { ForbiddenError, hasScopeIn, type SignedRequest } from '@fleet/service-kit';

/** What the rules read from the context: the request the gateway signed, with its principal. */
interface RuleContext {
  request: SignedRequest;
}

/** The plans on offer are public knowledge, for anyone signed in. */
const isSignedIn = rule({ cache: 'contextual' })(
  (_parent, _args, ctx: RuleContext) => ctx.request.principal.kind !== 'anonymous',
);

/** The scope in the tenant an argument names. */
function scopeInArgument(scope: string, tenantOf: (args: Record<string, unknown>) => unknown) {
  return rule({ cache: 'no_cache' })((_parent, args: Record<string, unknown>, ctx: RuleContext) => {
    const tenantId = tenantOf(args);
    return typeof tenantId === 'string' && hasScopeIn(ctx.request.principal, scope, tenantId);
  });
}

const tenantIdArg = (args: Record<string, unknown>) => args.tenantId;

/** Which plan a tenant is on is the tenant's business, whichever path reached it. */
const tenantPlanVisible = rule({ cache: 'no_cache' })((parent: { id: string }, _args, ctx: RuleContext) =>
  hasScopeIn(ctx.request.principal, 'billing:read', parent.id),
);

/**
 * The rule of every type and root field of the billing schema. Exported apart from the shield
 * so that a test can check that nothing in the schema is left to the fallback by accident.
 */
export const rules: IRules = {
  Query: {
    _service: allow,
    _entities: allow,
    plans: isSignedIn,
    plan: isSignedIn,
  },
  Mutation: {
    changeTenantPlan: scopeInArgument('billing:write', tenantIdArg),
  },
  _Service: allow,
  Plan: isSignedIn,
  Tenant: {
    // Only the entity's key: it tells nothing the caller did not send.
    id: isSignedIn,
    plan: tenantPlanVisible,
  },
};

/**
 * The billing subgraph's authorization, as graphql-shield rules over its schema: everything not
 * listed here is denied. The gateway decides first; this is the subgraph's own decision, never
 * skipped.
 */
export const permissions = shield(rules, {
  fallbackRule: deny,
  fallbackError: () => new ForbiddenError(),
  allowExternalErrors: true,
  debug: false,
});
