import { allow, type IRules } from 'graphql-shield';
import { accessRules, denyByDefault, tenantIdArgument, type SignedRequest } from '@fleet/service-kit';

/** The rules read the principal from the request the gateway signed. */
const { isSignedIn, scopeInArgument, scopeInParent } = accessRules(
  (context: { request: SignedRequest }) => context.request.principal,
);

/** Which plan a tenant is on is the tenant's business, whichever path reached it. */
const tenantPlanVisible = scopeInParent('billing:read', (parent: { id: string }) => parent.id);

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
    changeTenantPlan: scopeInArgument('billing:write', tenantIdArgument),
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
export const permissions = denyByDefault(rules);
