import { newId, snapshot, type StripeObject } from '../object-store.js';
import type { Params } from '../params.js';
import { invalidParam, missingParam, StripeApiError } from '../stripe-error.js';
import { currencyParam, objectOfParam, objectOfUrl, type ApiContext, type Endpoint } from './api-context.js';
import { createCustomerFor, type Customer } from './customers.js';
import { INTERVALS, subscribe, type Price, type Subscription } from './subscriptions.js';

export interface CheckoutSession extends StripeObject {
  object: 'checkout.session';
  created: number;
  expires_at: number;
  mode: 'payment' | 'setup' | 'subscription';
  status: 'open' | 'complete' | 'expired';
  payment_status: 'paid' | 'unpaid' | 'no_payment_required';
  customer: string | null;
  customer_email: string | null;
  customer_details: Record<string, unknown> | null;
  client_reference_id: string | null;
  metadata: Record<string, string>;
  subscription: string | null;
  currency: string | null;
  amount_subtotal: number;
  amount_total: number;
  url: string | null;
}

/** A line of a session, as `line_items` lists it. */
export interface CheckoutLineItem {
  id: string;
  object: 'item';
  amount_subtotal: number;
  amount_total: number;
  currency: string;
  description: string;
  price: Price;
  quantity: number;
}

/** What the customer enters on the page: Stripe keeps it, and reports it on the session. */
export interface CustomerDetails {
  email: string;
  name: string;
  country: string;
  /** Asked for when the page collects phone numbers. */
  phone?: string;
}

const DEFAULT_CUSTOMER_DETAILS: CustomerDetails = {
  email: 'owner@customer.example',
  name: 'Simulated Owner',
  country: 'DE',
};

/** What the session's `subscription_data` asked for, applied when the customer completes it. */
export interface SubscriptionData {
  metadata: Record<string, string>;
  trialPeriodDays: number | null;
  description: string | null;
}

const MODES = ['payment', 'setup', 'subscription'] as const;
const UI_MODES = ['hosted', 'embedded', 'custom'] as const;
const SESSION_LIFETIME_S = 24 * 3600;
const MAX_LINE_ITEMS = 20;

/** `POST /v1/checkout/sessions`: the page where a customer subscribes and leaves a means of payment. */
export const createCheckoutSession: Endpoint = (context, params) => {
  params.allow(
    'allow_promotion_codes',
    'billing_address_collection',
    'cancel_url',
    'client_reference_id',
    'currency',
    'customer',
    'customer_email',
    'expand',
    'expires_at',
    'line_items',
    'locale',
    'metadata',
    'mode',
    'payment_method_collection',
    'payment_method_types',
    'subscription_data',
    'success_url',
    'ui_mode',
  );
  const mode = params.string('mode', { required: true, oneOf: MODES }) as CheckoutSession['mode'];
  const uiMode = params.string('ui_mode', { oneOf: UI_MODES }) ?? 'hosted';
  const successUrl = urlParam(params, 'success_url');
  if (uiMode === 'hosted' && successUrl === undefined) throw missingParam('success_url');
  const cancelUrl = urlParam(params, 'cancel_url');
  const customerId = params.string('customer');
  const customerEmail = params.string('customer_email', { maxLength: 512 });
  if (customerId !== undefined && customerEmail !== undefined) {
    throw invalidParam(
      'customer_email',
      'You may only specify one of these parameters: customer, customer_email.',
    );
  }
  if (customerId !== undefined)
    objectOfParam<Customer>(context, 'customer', 'customer', customerId, 'customer');
  const now = context.store.now();
  const expiresAt =
    params.integer('expires_at', { min: now + 1800, max: now + SESSION_LIFETIME_S }) ??
    now + SESSION_LIFETIME_S;
  const lineItems = params
    .hashes('line_items', { max: MAX_LINE_ITEMS })
    .map((item) => lineItemOf(context, item));
  const subscriptionData = subscriptionDataOf(params.hash('subscription_data'), mode);
  if (mode === 'subscription' && !lineItems.some((item) => item.price.type === 'recurring')) {
    throw invalidParam(
      'line_items',
      'You must provide at least one recurring price in `subscription` mode when using prices.',
    );
  }
  if (mode === 'payment' && lineItems.length === 0) throw missingParam('line_items');
  const currencies = new Set(lineItems.map((item) => item.currency));
  if (currencies.size > 1) {
    throw invalidParam('line_items', 'All line items must be in the same currency.');
  }
  const amount = lineItems.reduce((sum, item) => sum + item.amount_total, 0);
  const id = newId('cs_test');
  const session: CheckoutSession = {
    id,
    object: 'checkout.session',
    amount_subtotal: amount,
    amount_total: amount,
    cancel_url: cancelUrl ?? null,
    client_reference_id: params.string('client_reference_id', { maxLength: 200 }) ?? null,
    created: now,
    currency: lineItems[0]?.currency ?? params.string('currency')?.toLowerCase() ?? null,
    customer: customerId ?? null,
    customer_details: null,
    customer_email: customerEmail ?? null,
    expires_at: expiresAt,
    invoice: null,
    livemode: false,
    metadata: params.metadata('metadata'),
    mode,
    payment_intent: null,
    payment_status: 'unpaid',
    setup_intent: null,
    status: 'open',
    subscription: null,
    success_url: successUrl ?? null,
    ui_mode: uiMode,
    url: uiMode === 'hosted' ? `${context.baseUrl}/checkout/${id}` : null,
  };
  context.store.attach(id, 'line_items', lineItems);
  context.store.attach(id, 'subscription_data', subscriptionData);
  return context.store.put(session);
};

/** `GET /v1/checkout/sessions/:id`; `expand[]=line_items` lists its lines. */
export const retrieveCheckoutSession: Endpoint = (context, params, id) => {
  params.allow('expand');
  return objectOfUrl<CheckoutSession>(context, 'checkout.session', 'checkout.session', id);
};

/** The session's lines as a list object, for `expand[]=line_items`. */
export function lineItemsOf(context: ApiContext, session: CheckoutSession): StripeObject {
  const items = context.store.attachment<CheckoutLineItem[]>(session.id, 'line_items') ?? [];
  return {
    id: `${session.id}_line_items`,
    object: 'list',
    data: snapshot(items),
    has_more: false,
    url: `/v1/checkout/sessions/${session.id}/line_items`,
  };
}

/**
 * The customer completes the session's page (the test acting as the customer): in subscription
 * mode the subscription is made (trialing when the session asked for trial days), on the
 * session's customer or a new one, and Stripe's events follow: `customer.subscription.created`,
 * then `checkout.session.completed`.
 */
export function completeCheckoutSession(
  context: ApiContext,
  id: string,
  details: CustomerDetails = DEFAULT_CUSTOMER_DETAILS,
): CheckoutSession {
  const session = context.store.get<CheckoutSession>('checkout.session', id);
  if (!session) throw new RangeError(`There is no checkout session ${id}`);
  if (session.status !== 'open')
    throw new RangeError(`Checkout session ${id} is ${session.status}, not open`);
  if (context.store.now() >= session.expires_at) throw new RangeError(`Checkout session ${id} has expired`);
  if (session.mode !== 'subscription') throw new RangeError('Only subscription-mode sessions are simulated');
  const customer =
    (session.customer ? context.store.get<Customer>('customer', session.customer) : undefined) ??
    createCustomerFor(context, {
      email: session.customer_email ?? details.email,
      name: details.name,
      phone: details.phone ?? null,
    });
  const data = context.store.attachment<SubscriptionData>(id, 'subscription_data')!;
  const items = context.store.attachment<CheckoutLineItem[]>(id, 'line_items')!;
  const subscription: Subscription = subscribe(context, {
    customer,
    items: items.map((item) => ({ price: item.price, quantity: item.quantity })),
    metadata: data.metadata,
    trialPeriodDays: data.trialPeriodDays,
    description: data.description,
  });
  // What the customer typed on the page, as Stripe reports it on the session.
  session.customer_details = {
    address: {
      city: null,
      country: details.country,
      line1: null,
      line2: null,
      postal_code: null,
      state: null,
    },
    email: details.email,
    name: details.name,
    phone: details.phone ?? null,
    tax_exempt: 'none',
    tax_ids: [],
  };
  session.status = 'complete';
  session.customer = customer.id;
  session.subscription = subscription.id;
  session.payment_status =
    session.amount_total === 0 || data.trialPeriodDays ? 'no_payment_required' : 'paid';
  context.events.record('customer.subscription.created', subscription, context.cause);
  context.events.record('checkout.session.completed', session, context.cause);
  return session;
}

function lineItemOf(context: ApiContext, item: Params): CheckoutLineItem {
  item.allow('price', 'price_data', 'quantity');
  const priceId = item.string('price');
  const data = item.hash('price_data');
  if (priceId !== undefined) {
    throw new StripeApiError(400, 'invalid_request_error', `No such price: '${priceId}'`, {
      code: 'resource_missing',
      param: item.nameOf('price'),
    });
  }
  if (!data) throw missingParam(item.nameOf('price_data'));
  data.allow('currency', 'product', 'product_data', 'recurring', 'tax_behavior', 'unit_amount');
  const currency = currencyParam(data, 'currency', true)!;
  const productId = data.string('product');
  const productData = data.hash('product_data');
  if (productId === undefined && !productData) throw missingParam(data.nameOf('product_data'));
  if (productId !== undefined)
    objectOfParam(context, 'product', 'product', productId, data.nameOf('product'));
  let product = productId;
  let name = '';
  if (productData) {
    productData.allow('description', 'metadata', 'name');
    name = productData.string('name', { required: true, maxLength: 250 });
    product = context.store.put({
      id: newId('prod'),
      object: 'product',
      active: true,
      created: context.store.now(),
      description: productData.string('description') ?? null,
      livemode: false,
      metadata: productData.metadata('metadata'),
      name,
    }).id;
  } else {
    name = String(context.store.get('product', product!)!.name);
  }
  const unitAmount = data.integer('unit_amount', { required: true, min: 0, max: 99_999_999 });
  const recurringParams = data.hash('recurring');
  let recurring: Price['recurring'] = null;
  if (recurringParams) {
    recurringParams.allow('interval', 'interval_count');
    recurring = {
      interval: recurringParams.string('interval', {
        required: true,
        oneOf: INTERVALS,
      }) as (typeof INTERVALS)[number],
      interval_count: recurringParams.integer('interval_count', { min: 1, max: 365 }) ?? 1,
      usage_type: 'licensed',
    };
  }
  const quantity = item.integer('quantity', { required: true, min: 0, max: 999_999 });
  const price: Price = context.store.put({
    id: newId('price'),
    object: 'price',
    active: true,
    billing_scheme: 'per_unit',
    created: context.store.now(),
    currency,
    livemode: false,
    metadata: {},
    product: product!,
    recurring,
    tax_behavior:
      data.string('tax_behavior', { oneOf: ['exclusive', 'inclusive', 'unspecified'] }) ?? 'unspecified',
    type: recurring ? 'recurring' : 'one_time',
    unit_amount: unitAmount,
  });
  return {
    id: newId('li'),
    object: 'item',
    amount_subtotal: unitAmount * quantity,
    amount_total: unitAmount * quantity,
    currency,
    description: name,
    price,
    quantity,
  };
}

function subscriptionDataOf(data: Params | undefined, mode: CheckoutSession['mode']): SubscriptionData {
  if (!data) return { metadata: {}, trialPeriodDays: null, description: null };
  if (mode !== 'subscription') {
    throw invalidParam('subscription_data', 'You can only pass subscription_data in `subscription` mode.');
  }
  data.allow('description', 'metadata', 'trial_period_days');
  return {
    metadata: data.metadata('metadata'),
    trialPeriodDays: data.integer('trial_period_days', { min: 1, max: 730 }) ?? null,
    description: data.string('description', { maxLength: 500 }) ?? null,
  };
}

function urlParam(params: Params, key: string): string | undefined {
  const value = params.string(key, { maxLength: 5000 });
  if (value === undefined) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw invalidParam(params.nameOf(key), 'Not a valid URL', 'url_invalid');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw invalidParam(params.nameOf(key), 'Not a valid URL', 'url_invalid');
  }
  return value;
}
