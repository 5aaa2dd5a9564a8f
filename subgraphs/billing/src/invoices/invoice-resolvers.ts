import { actorOf } from '@fleet/outbox';
import { hasScopeIn, isPlatformReader, type Principal, type SignedRequest } from '@fleet/service-kit';
import { tenantIdOf } from '../subscriptions/subscriptions.js';
import type { UsageMeter } from '../usage/usage-meter.js';
import type { InvoiceIssuer } from './invoice-issuer.js';
import type { InvoicePayments } from './invoice-payments.js';
import {
  invoiceCursor,
  type InvoiceLineRow,
  type InvoiceStore,
  type InvoiceWithLines,
} from './invoice-store.js';

/** Usage and invoices, as the resolvers reach them. */
export interface InvoiceServices {
  store: InvoiceStore;
  issuer: InvoiceIssuer;
  payments: InvoicePayments;
  usage: UsageMeter;
}

export interface InvoiceContext {
  invoices: InvoiceServices;
  request: SignedRequest;
}

/** An invoice is its tenant's billing people's (`invoices:read`) and the platform readers'. */
export function canReadInvoicesOf(principal: Principal, tenantId: string): boolean {
  return hasScopeIn(principal, 'invoices:read', tenantId) || isPlatformReader(principal);
}

const lineOut = (line: InvoiceLineRow) => ({
  kind: line.kind.toUpperCase(),
  description: line.description,
  planId: line.plan_id,
  periodStart: line.period_start.toISOString(),
  periodEnd: line.period_end.toISOString(),
  quantity: line.quantity,
  unitAmountMinor: line.unit_amount_minor,
  amountMinor: line.amount_minor,
});

export const invoiceOut = (invoice: InvoiceWithLines) => ({
  id: invoice.id,
  tenantId: invoice.tenant_id,
  period: invoice.period,
  status: invoice.status.toUpperCase(),
  currency: invoice.currency,
  totalMinor: invoice.total_minor,
  lines: invoice.lines.map(lineOut),
  issuedAt: invoice.issued_at.toISOString(),
  dueAt: invoice.due_at.toISOString(),
  paidAt: invoice.paid_at?.toISOString() ?? null,
  provider: invoice.provider,
});

/** The resolvers of usage and invoices; resolvers.ts merges them into billing's. */
export const invoiceResolvers = {
  Query: {
    // Another tenant's invoice answers as an unknown one does: its existence is not told.
    invoice: async (_: unknown, args: { id: string }, { invoices, request }: InvoiceContext) => {
      const invoice = await invoices.store.get(args.id);
      if (!invoice || !canReadInvoicesOf(request.principal, invoice.tenant_id)) return null;
      return invoiceOut(invoice);
    },
  },
  Mutation: {
    issueInvoices: (_: unknown, args: { period: string }, { invoices, request }: InvoiceContext) =>
      invoices.issuer.issue(args.period, actorOf(request.principal)),
    markInvoicePaid: async (
      _: unknown,
      args: { invoiceId: string },
      { invoices, request }: InvoiceContext,
    ) => {
      const paid = await invoices.payments.markPaid(args.invoiceId, actorOf(request.principal));
      return invoiceOut((await invoices.store.get(paid.id))!);
    },
  },
  Tenant: {
    usage: (tenant: { id: string }, args: { month?: string | null }, { invoices }: InvoiceContext) =>
      invoices.usage.usage(tenantIdOf(tenant.id), args.month),
    invoices: async (
      tenant: { id: string },
      args: { first: number; after?: string | null },
      { invoices }: InvoiceContext,
    ) => {
      const page = await invoices.store.page(tenantIdOf(tenant.id), args.first, args.after);
      const edges = page.invoices.map((invoice) => ({
        cursor: invoiceCursor(invoice.period),
        node: invoiceOut(invoice),
      }));
      return {
        edges,
        pageInfo: { hasNextPage: page.hasNextPage, endCursor: edges.at(-1)?.cursor ?? null },
      };
    },
  },
};
