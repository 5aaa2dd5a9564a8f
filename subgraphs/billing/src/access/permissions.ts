import { allow, rule, type IRules } from 'graphql-shield';
import {
  accessRules,
  denyByDefault,
  isPlatformAdmin,
  tenantIdArgument,
  type SignedRequest,
} from '@fleet/service-kit';
import { invoiceRules } from '../invoices/invoice-permissions.js';

type Context = { request: SignedRequest };

/** The rules read the principal from the request the gateway signed. */
const { isSignedIn, scopeInArgument, scopeInParent } = accessRules(
  (context: Context) => context.request.principal,
);

/** Plans are the platform's: only its admins make and change them. */
const platformAdmin = rule({ cache: 'contextual' })((_parent, _args, ctx: Context) =>
  isPlatformAdmin(ctx.request.principal),
);

/** A tenant's plan and standing are the tenant's business, whichever path reached them. */
const tenantBilling = scopeInParent('billing:read', (parent: { id: string }) => parent.id);

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
    ...invoiceRules.Query,
  },
  Mutation: {
    changeTenantPlan: scopeInArgument('billing:write', tenantIdArgument),
    cancelSubscription: scopeInArgument('billing:write', tenantIdArgument),
    startCheckout: scopeInArgument('billing:write', tenantIdArgument),
    createPlan: platformAdmin,
    updatePlan: platformAdmin,
    ...invoiceRules.Mutation,
  },
  _Service: allow,
  Plan: isSignedIn,
  // Reached only through Tenant.subscription, whose rule decides.
  TenantSubscription: allow,
  CheckoutSession: allow,
  Tenant: {
    // Only the entity's key: it tells nothing the caller did not send.
    id: isSignedIn,
    plan: tenantBilling,
    subscription: tenantBilling,
    ...invoiceRules.Tenant,
  },
  ...invoiceRules.types,
};

/**
 * The billing subgraph's authorization, as graphql-shield rules over its schema: everything not
 * listed here is denied. The gateway decides first; this is the subgraph's own decision, never
 * skipped.
 */
export const permissions = denyByDefault(rules);
