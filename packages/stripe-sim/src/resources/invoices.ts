import { newId, type StripeObject } from '../object-store.js';
import type { Params } from '../params.js';
import { invalidParam, missingParam, StripeApiError } from '../stripe-error.js';
import { currencyParam, objectOfParam, objectOfUrl, type ApiContext, type Endpoint } from './api-context.js';
import type { Customer } from './customers.js';
import type { Subscription } from './subscriptions.js';

export interface InvoiceItem extends StripeObject {
  object: 'invoiceitem';
  amount: number;
  currency: string;
  customer: string;
  description: string | null;
  invoice: string | null;
  metadata: Record<string, string>;
  subscription: string | null;
  period: { start: number; end: number };
}

export interface Invoice extends StripeObject {
  object: 'invoice';
  status: 'draft' | 'open' | 'paid' | 'uncollectible' | 'void';
  customer: string;
  currency: string;
  collection_method: 'charge_automatically' | 'send_invoice';
  metadata: Record<string, string>;
  parent: {
    type: 'subscription_details';
    subscription_details: { subscription: string; metadata: Record<string, string> };
  } | null;
  lines: { object: 'list'; data: StripeObject[]; has_more: false; total_count: number; url: string };
  subtotal: number;
  total: number;
  amount_due: number;
  amount_paid: number;
  amount_remaining: number;
  attempt_count: number;
  attempted: boolean;
  number: string | null;
  period_start: number;
  period_end: number;
  status_transitions: {
    finalized_at: number | null;
    paid_at: number | null;
    voided_at: number | null;
    marked_uncollectible_at: number | null;
  };
}

/** `POST /v1/invoiceitems`: a pending line of the customer's next invoice, or of a draft one. */
export const createInvoiceItem: Endpoint = (context, params) => {
  params.allow(
    'amount',
    'currency',
    'customer',
    'description',
    'expand',
    'invoice',
    'metadata',
    'period',
    'subscription',
  );
  const customerId = params.string('customer', { required: true });
  objectOfParam<Customer>(context, 'customer', 'customer', customerId, 'customer');
  const amount = params.integer('amount', { required: true, min: -99_999_999, max: 99_999_999 });
  const currency = currencyParam(params, 'currency', true)!;
  const subscriptionId = params.string('subscription');
  if (subscriptionId !== undefined) {
    const subscription = objectOfParam<Subscription>(
      context,
      'subscription',
      'subscription',
      subscriptionId,
      'subscription',
    );
    if (subscription.customer !== customerId) {
      throw invalidParam(
        'subscription',
        `The subscription ${subscriptionId} does not belong to customer ${customerId}.`,
      );
    }
  }
  const invoiceId = params.string('invoice');
  let invoice: Invoice | undefined;
  if (invoiceId !== undefined) {
    invoice = objectOfParam<Invoice>(context, 'invoice', 'invoice', invoiceId, 'invoice');
    if (invoice.customer !== customerId) {
      throw invalidParam('invoice', `The invoice ${invoiceId} does not belong to customer ${customerId}.`);
    }
    if (invoice.status !== 'draft') {
      throw invalidParam(
        'invoice',
        'You can only add invoice items to draft invoices.',
        'invoice_not_editable',
      );
    }
    if (invoice.currency !== currency) {
      throw invalidParam('currency', `The currency must be the invoice's (${invoice.currency}).`);
    }
  }
  const now = context.store.now();
  const period = periodOf(params.hash('period'), now);
  const item: InvoiceItem = {
    id: newId('ii'),
    object: 'invoiceitem',
    amount,
    currency,
    customer: customerId,
    date: now,
    description: params.string('description', { maxLength: 500 }) ?? null,
    discountable: true,
    invoice: null,
    livemode: false,
    metadata: params.metadata('metadata'),
    period,
    proration: false,
    quantity: 1,
    subscription: subscriptionId ?? null,
    test_clock: null,
  };
  context.store.put(item);
  if (invoice) addLine(invoice, item);
  return item;
};

const COLLECTION_METHODS = ['charge_automatically', 'send_invoice'] as const;

/**
 * `POST /v1/invoices`: a draft. With `pending_invoice_items_behavior=include` it takes the
 * customer's pending invoice items (only those of `subscription`, when one is named).
 */
export const createInvoice: Endpoint = (context, params) => {
  params.allow(
    'auto_advance',
    'collection_method',
    'currency',
    'customer',
    'days_until_due',
    'description',
    'expand',
    'metadata',
    'pending_invoice_items_behavior',
    'subscription',
  );
  const customerId = params.string('customer', { required: true });
  objectOfParam<Customer>(context, 'customer', 'customer', customerId, 'customer');
  const subscriptionId = params.string('subscription');
  let subscription: Subscription | undefined;
  if (subscriptionId !== undefined) {
    subscription = objectOfParam<Subscription>(
      context,
      'subscription',
      'subscription',
      subscriptionId,
      'subscription',
    );
    if (subscription.customer !== customerId) {
      throw invalidParam(
        'subscription',
        `The subscription ${subscriptionId} does not belong to customer ${customerId}.`,
      );
    }
  }
  const collectionMethod =
    (params.string('collection_method', { oneOf: COLLECTION_METHODS }) as
      Invoice['collection_method'] | undefined) ?? 'charge_automatically';
  const daysUntilDue = params.integer('days_until_due', { min: 0, max: 3650 });
  if (collectionMethod === 'send_invoice' && daysUntilDue === undefined) throw missingParam('days_until_due');
  if (collectionMethod === 'charge_automatically' && daysUntilDue !== undefined) {
    throw invalidParam(
      'days_until_due',
      'days_until_due can only be set when collection_method is send_invoice.',
    );
  }
  const behavior =
    params.string('pending_invoice_items_behavior', { oneOf: ['exclude', 'include'] }) ?? 'exclude';
  const pending =
    behavior === 'include'
      ? context.store
          .all<InvoiceItem>('invoiceitem')
          .filter((item) => item.customer === customerId && item.invoice === null)
          .filter((item) => subscriptionId === undefined || item.subscription === subscriptionId)
      : [];
  const currency = currencyParam(params, 'currency', false) ?? pending[0]?.currency ?? 'usd';
  const mixed = pending.find((item) => item.currency !== currency);
  if (mixed) {
    throw invalidParam(
      'pending_invoice_items_behavior',
      `The pending invoice item ${mixed.id} is in ${mixed.currency}, not in the invoice's currency (${currency}).`,
    );
  }
  const now = context.store.now();
  const id = newId('in');
  const invoice: Invoice = {
    id,
    object: 'invoice',
    amount_due: 0,
    amount_paid: 0,
    amount_remaining: 0,
    attempt_count: 0,
    attempted: false,
    auto_advance: params.boolean('auto_advance') ?? false,
    billing_reason: subscriptionId ? 'subscription' : 'manual',
    collection_method: collectionMethod,
    created: now,
    currency,
    customer: customerId,
    days_until_due: daysUntilDue ?? null,
    default_payment_method: null,
    description: params.string('description', { maxLength: 1500 }) ?? null,
    due_date: daysUntilDue === undefined ? null : now + daysUntilDue * 86_400,
    hosted_invoice_url: null,
    invoice_pdf: null,
    lines: { object: 'list', data: [], has_more: false, total_count: 0, url: `/v1/invoices/${id}/lines` },
    livemode: false,
    metadata: params.metadata('metadata'),
    next_payment_attempt: null,
    number: null,
    parent: subscription
      ? {
          type: 'subscription_details',
          subscription_details: { subscription: subscription.id, metadata: { ...subscription.metadata } },
        }
      : null,
    period_end: now,
    period_start: now,
    status: 'draft',
    status_transitions: { finalized_at: null, marked_uncollectible_at: null, paid_at: null, voided_at: null },
    subtotal: 0,
    total: 0,
  };
  for (const item of pending) addLine(invoice, item);
  return context.store.put(invoice);
};

export const retrieveInvoice: Endpoint = (context, params, id) => {
  params.allow('expand');
  return objectOfUrl<Invoice>(context, 'invoice', 'invoice', id);
};

/**
 * `POST /v1/invoices/:id/finalize`: the draft becomes open, numbered, ready to collect; an
 * invoice with nothing due is paid at once, as Stripe does.
 */
export const finalizeInvoice: Endpoint = (context, params, id) => {
  params.allow('auto_advance', 'expand');
  params.boolean('auto_advance');
  const invoice = objectOfUrl<Invoice>(context, 'invoice', 'invoice', id);
  if (invoice.status !== 'draft') {
    throw new StripeApiError(
      400,
      'invalid_request_error',
      "This invoice is already finalized, you can't re-finalize a non-draft invoice.",
      { code: 'invoice_not_editable' },
    );
  }
  const now = context.store.now();
  const sequence = context.store.all<Invoice>('invoice').filter((other) => other.number !== null).length + 1;
  invoice.status = 'open';
  invoice.number = `SIM-${String(sequence).padStart(6, '0')}`;
  invoice.status_transitions.finalized_at = now;
  invoice.hosted_invoice_url = `${context.baseUrl}/invoices/${invoice.id}`;
  invoice.next_payment_attempt = invoice.collection_method === 'charge_automatically' ? now + 3600 : null;
  context.events.record('invoice.finalized', invoice, context.cause);
  if (invoice.amount_due <= 0) settle(context, invoice);
  return invoice;
};

/** The customer's means of payment is charged, as Stripe's backend does: `invoice.paid`. */
export function payInvoice(context: ApiContext, id: string): Invoice {
  const invoice = openInvoice(context, id);
  settle(context, invoice);
  return invoice;
}

/** A charge of the invoice fails: it stays open, `invoice.payment_failed`. */
export function failInvoicePayment(context: ApiContext, id: string): Invoice {
  const invoice = openInvoice(context, id);
  invoice.attempt_count += 1;
  invoice.attempted = true;
  invoice.next_payment_attempt = context.store.now() + 3 * 86_400;
  context.events.record('invoice.payment_failed', invoice, context.cause);
  return invoice;
}

function openInvoice(context: ApiContext, id: string): Invoice {
  const invoice = context.store.get<Invoice>('invoice', id);
  if (!invoice) throw new RangeError(`There is no invoice ${id}`);
  if (invoice.status !== 'open') throw new RangeError(`Invoice ${id} is ${invoice.status}, not open`);
  return invoice;
}

function settle(context: ApiContext, invoice: Invoice): void {
  invoice.status = 'paid';
  if (invoice.amount_due > 0) {
    invoice.attempt_count += 1;
    invoice.attempted = true;
  }
  invoice.amount_paid = invoice.amount_due;
  invoice.amount_remaining = 0;
  invoice.next_payment_attempt = null;
  invoice.status_transitions.paid_at = context.store.now();
  context.events.record('invoice.paid', invoice, context.cause);
}

function addLine(invoice: Invoice, item: InvoiceItem): void {
  item.invoice = invoice.id;
  invoice.lines.data.push({
    id: newId('il'),
    object: 'line_item',
    amount: item.amount,
    currency: item.currency,
    description: item.description,
    invoice: invoice.id,
    livemode: false,
    metadata: { ...item.metadata },
    parent: {
      type: 'invoice_item_details',
      invoice_item_details: { invoice_item: item.id, proration: false, subscription: item.subscription },
    },
    period: { ...item.period },
    quantity: 1,
  });
  invoice.lines.total_count = invoice.lines.data.length;
  invoice.subtotal += item.amount;
  invoice.total += item.amount;
  invoice.amount_due = Math.max(0, invoice.total);
  invoice.amount_remaining = invoice.amount_due;
  invoice.period_start = Math.min(invoice.period_start, item.period.start);
  invoice.period_end = Math.max(invoice.period_end, item.period.end);
}

function periodOf(period: Params | undefined, now: number): { start: number; end: number } {
  if (!period) return { start: now, end: now };
  period.allow('end', 'start');
  const start = period.integer('start', { required: true, min: 0 });
  const end = period.integer('end', { required: true, min: 0 });
  if (end < start) throw invalidParam(period.nameOf('end'), 'The period must end after it starts.');
  return { start, end };
}
