import { changedFields } from '../event-log.js';
import { newId, snapshot, type StripeObject } from '../object-store.js';
import { StripeApiError } from '../stripe-error.js';
import { objectOfUrl, type ApiContext, type Endpoint } from './api-context.js';
import type { Customer } from './customers.js';

export const INTERVALS = ['day', 'week', 'month', 'year'] as const;

export interface Price extends StripeObject {
  object: 'price';
  currency: string;
  product: string;
  recurring: { interval: (typeof INTERVALS)[number]; interval_count: number; usage_type: 'licensed' } | null;
  type: 'one_time' | 'recurring';
  unit_amount: number;
}

export const SUBSCRIPTION_STATUSES = [
  'incomplete',
  'incomplete_expired',
  'trialing',
  'active',
  'past_due',
  'canceled',
  'unpaid',
  'paused',
] as const;
export type SubscriptionStatus = (typeof SUBSCRIPTION_STATUSES)[number];

export interface Subscription extends StripeObject {
  object: 'subscription';
  created: number;
  customer: string;
  currency: string;
  status: SubscriptionStatus;
  metadata: Record<string, string>;
  default_payment_method: string | null;
  items: { object: 'list'; data: StripeObject[]; has_more: false; total_count: number; url: string };
  trial_start: number | null;
  trial_end: number | null;
  canceled_at: number | null;
  ended_at: number | null;
  cancel_at_period_end: boolean;
  cancellation_details: { comment: string | null; feedback: string | null; reason: string | null };
}

const DAY_S = 86_400;

/**
 * Makes a subscription, as a completed Checkout session does: the customer's means of payment
 * (a simulated card) becomes its default, and it starts trialing when trial days were asked for.
 * Its current period is on each item, as in Stripe's current API.
 */
export function subscribe(
  context: ApiContext,
  input: {
    customer: Customer;
    items: { price: Price; quantity: number }[];
    metadata: Record<string, string>;
    trialPeriodDays: number | null;
    description: string | null;
  },
): Subscription {
  const now = context.store.now();
  const paymentMethod = context.store.put({
    id: newId('pm'),
    object: 'payment_method',
    card: { brand: 'visa', exp_month: 12, exp_year: new Date().getUTCFullYear() + 3, last4: '4242' },
    created: now,
    customer: input.customer.id,
    livemode: false,
    metadata: {},
    type: 'card',
  });
  input.customer.invoice_settings.default_payment_method = paymentMethod.id;
  const trialEnd = input.trialPeriodDays ? now + input.trialPeriodDays * DAY_S : null;
  const id = newId('sub');
  const recurring = input.items.find((item) => item.price.recurring)!.price.recurring!;
  const periodEnd = trialEnd ?? addInterval(now, recurring.interval, recurring.interval_count);
  const items = input.items.map((item) => ({
    id: newId('si'),
    object: 'subscription_item',
    created: now,
    current_period_end: periodEnd,
    current_period_start: now,
    metadata: {},
    price: snapshot(item.price),
    quantity: item.quantity,
    subscription: id,
  }));
  const subscription: Subscription = {
    id,
    object: 'subscription',
    billing_cycle_anchor: periodEnd,
    cancel_at: null,
    cancel_at_period_end: false,
    canceled_at: null,
    cancellation_details: { comment: null, feedback: null, reason: null },
    collection_method: 'charge_automatically',
    created: now,
    currency: input.items[0]!.price.currency,
    customer: input.customer.id,
    days_until_due: null,
    default_payment_method: paymentMethod.id,
    description: input.description,
    ended_at: null,
    items: {
      object: 'list',
      data: items,
      has_more: false,
      total_count: items.length,
      url: `/v1/subscription_items?subscription=${id}`,
    },
    latest_invoice: null,
    livemode: false,
    metadata: { ...input.metadata },
    pause_collection: null,
    start_date: now,
    status: trialEnd ? 'trialing' : 'active',
    test_clock: null,
    trial_end: trialEnd,
    trial_settings: { end_behavior: { missing_payment_method: 'create_invoice' } },
    trial_start: trialEnd ? now : null,
  };
  return context.store.put(subscription);
}

export const retrieveSubscription: Endpoint = (context, params, id) => {
  params.allow('expand');
  return objectOfUrl<Subscription>(context, 'subscription', 'subscription', id);
};

/** `POST /v1/subscriptions/:id`: metadata, description, cancel at the period's end. */
export const updateSubscription: Endpoint = (context, params, id) => {
  params.allow('cancel_at_period_end', 'cancellation_details', 'description', 'expand', 'metadata');
  const subscription = objectOfUrl<Subscription>(context, 'subscription', 'subscription', id);
  const before = snapshot(subscription);
  const ended = subscription.status === 'canceled' || subscription.status === 'incomplete_expired';
  if (ended && (params.has('cancel_at_period_end') || params.has('description'))) {
    throw new StripeApiError(
      400,
      'invalid_request_error',
      'A canceled subscription can only update its cancellation_details and metadata.',
    );
  }
  subscription.metadata = params.metadata('metadata', subscription.metadata);
  const description = params.string('description', { maxLength: 500 });
  if (description !== undefined) subscription.description = description;
  const atPeriodEnd = params.boolean('cancel_at_period_end');
  if (atPeriodEnd !== undefined) {
    subscription.cancel_at_period_end = atPeriodEnd;
    subscription.cancel_at = atPeriodEnd ? currentPeriodEnd(subscription) : null;
  }
  const details = params.hash('cancellation_details');
  if (details) {
    details.allow('comment', 'feedback');
    subscription.cancellation_details.comment = details.string('comment', { maxLength: 5000 }) ?? null;
    subscription.cancellation_details.feedback = details.string('feedback') ?? null;
  }
  const previous = changedFields(before, subscription);
  if (Object.keys(previous).length > 0) {
    context.events.record('customer.subscription.updated', subscription, context.cause, previous);
  }
  return subscription;
};

/** `DELETE /v1/subscriptions/:id`: cancels now; `customer.subscription.deleted` follows. */
export const cancelSubscription: Endpoint = (context, params, id) => {
  params.allow('cancellation_details', 'expand', 'invoice_now', 'prorate');
  const subscription = objectOfUrl<Subscription>(context, 'subscription', 'subscription', id);
  if (subscription.status === 'canceled' || subscription.status === 'incomplete_expired') {
    throw new StripeApiError(
      400,
      'invalid_request_error',
      'A canceled subscription can only update its cancellation_details and metadata.',
    );
  }
  params.boolean('invoice_now');
  params.boolean('prorate');
  const details = params.hash('cancellation_details');
  details?.allow('comment', 'feedback');
  end(context, subscription, 'cancellation_requested', {
    comment: details?.string('comment', { maxLength: 5000 }) ?? null,
    feedback: details?.string('feedback') ?? null,
  });
  return subscription;
};

/**
 * Moves a subscription to a status as Stripe's backend would (a trial ending, payments
 * failing, dunning giving up): `customer.subscription.updated`, or `customer.subscription.deleted`
 * for `canceled`.
 */
export function setSubscriptionStatus(
  context: ApiContext,
  id: string,
  status: SubscriptionStatus,
): Subscription {
  const subscription = context.store.get<Subscription>('subscription', id);
  if (!subscription) throw new RangeError(`There is no subscription ${id}`);
  if (!SUBSCRIPTION_STATUSES.includes(status))
    throw new RangeError(`There is no subscription status ${String(status)}`);
  if (subscription.status === 'canceled') throw new RangeError(`Subscription ${id} is canceled already`);
  if (status === 'canceled') {
    end(context, subscription, 'payment_failed', { comment: null, feedback: null });
    return subscription;
  }
  const before = snapshot(subscription);
  const now = context.store.now();
  if (subscription.status === 'trialing' && status !== 'trialing' && (subscription.trial_end ?? 0) > now) {
    subscription.trial_end = now;
  }
  subscription.status = status;
  context.events.record(
    'customer.subscription.updated',
    subscription,
    context.cause,
    changedFields(before, subscription),
  );
  return subscription;
}

function end(
  context: ApiContext,
  subscription: Subscription,
  reason: string,
  details: { comment: string | null; feedback: string | null },
): void {
  const now = context.store.now();
  subscription.status = 'canceled';
  subscription.canceled_at = now;
  subscription.ended_at = now;
  subscription.cancel_at_period_end = false;
  subscription.cancellation_details = { ...details, reason };
  context.events.record('customer.subscription.deleted', subscription, context.cause);
}

function currentPeriodEnd(subscription: Subscription): number {
  return Number(subscription.items.data[0]?.current_period_end ?? subscription.created);
}

function addInterval(start: number, interval: (typeof INTERVALS)[number], count: number): number {
  const date = new Date(start * 1000);
  switch (interval) {
    case 'day':
      return start + count * DAY_S;
    case 'week':
      return start + count * 7 * DAY_S;
    case 'month':
      date.setUTCMonth(date.getUTCMonth() + count);
      return Math.floor(date.getTime() / 1000);
    case 'year':
      date.setUTCFullYear(date.getUTCFullYear() + count);
      return Math.floor(date.getTime() / 1000);
  }
}
