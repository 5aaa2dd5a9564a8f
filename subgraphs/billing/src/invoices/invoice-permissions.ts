import { allow, rule, type IRule } from 'graphql-shield';
import { accessRules, isPlatformAdmin, type SignedRequest } from '@fleet/service-kit';
import { canReadInvoicesOf } from './invoice-resolvers.js';

type Context = { request: SignedRequest };
type AnyRule = IRule | typeof allow;

const { isSignedIn, scopeInParent } = accessRules((context: Context) => context.request.principal);

/** Issuing and recording payments are the platform's admins' alone. */
const platformAdmin = rule({ cache: 'contextual' })((_parent, _args, ctx: Context) =>
  isPlatformAdmin(ctx.request.principal),
);

/** Every invoice is checked against its own tenant, whichever path reached it. */
const invoiceVisible = rule({ cache: 'no_cache' })(
  (parent: { tenantId?: unknown }, _args, ctx: Context) =>
    typeof parent.tenantId === 'string' && canReadInvoicesOf(ctx.request.principal, parent.tenantId),
);

/** A tenant's list of invoices, by the same rule as each invoice in it. */
const tenantInvoicesVisible = rule({ cache: 'no_cache' })(
  (parent: { id?: unknown }, _args, ctx: Context) =>
    typeof parent.id === 'string' && canReadInvoicesOf(ctx.request.principal, parent.id),
);

/**
 * The rules of usage and invoices; permissions.ts merges them into billing's, whose fallback
 * denies whatever is not named.
 */
export const invoiceRules: {
  Query: Record<string, AnyRule>;
  Mutation: Record<string, AnyRule>;
  Tenant: Record<string, AnyRule>;
  types: Record<string, AnyRule | Record<string, AnyRule>>;
} = {
  Query: {
    // The invoice's tenant is known only once it is read: the resolver and the Invoice rule decide.
    invoice: isSignedIn,
  },
  Mutation: {
    issueInvoices: platformAdmin,
    markInvoicePaid: platformAdmin,
  },
  Tenant: {
    usage: scopeInParent('billing:read', (parent: { id: string }) => parent.id),
    invoices: tenantInvoicesVisible,
  },
  types: {
    Invoice: { '*': invoiceVisible },
    // Reached only through an invoice, a tenant's list or a usage, whose rules decide.
    InvoiceLine: allow,
    InvoiceEdge: allow,
    InvoiceConnection: allow,
    InvoicePageInfo: allow,
    Usage: allow,
    // The answer to a platform admin's issueInvoices.
    IssueInvoicesResult: allow,
  },
};
