import Stripe from 'stripe';
import type { SubscriptionStatus } from '../../database/schema.js';
import type { EffectOutcome, PaymentEffects, ProviderCause } from '../payment-effects.js';
import type {
  Applied,
  ApplyEvent,
  ProviderEvents,
  VerifiedEvent,
  WebhookOutcome,
} from '../provider-events.js';

export interface StripeWebhooksOptions {
  /** The endpoint's signing secret, `whsec_…`. */
  webhookSecret: string;
  /** Oldest a signature may be, in seconds. */
  toleranceS: number;
  events: ProviderEvents;
  effects: PaymentEffects;
}

/** The answer to one delivery: 400 for a refused one (Stripe then retries), 200 otherwise. */
export interface WebhookAnswer {
  status: 200 | 400;
  outcome: WebhookOutcome;
  /** Why a delivery was refused, for the endpoint's answer. */
  message?: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const EVENT_ID = /^evt_[A-Za-z0-9_]{1,250}$/;
const OBJECT_ID = /^[A-Za-z0-9_]{1,255}$/;

/** Stripe's statuses of a subscription, as billing's; the others (incomplete, paused) change nothing. */
const STATUS_OF: Partial<Record<Stripe.Subscription.Status, SubscriptionStatus>> = {
  trialing: 'trialing',
  active: 'active',
  past_due: 'past_due',
  unpaid: 'past_due',
  canceled: 'canceled',
  incomplete_expired: 'canceled',
};

/**
 * Stripe's webhook deliveries. Each is verified with the SDK's `webhooks.constructEvent` against
 * the endpoint's signing secret, within the tolerance: a delivery without a good, fresh signature
 * is refused (400) and nothing of it is read. A verified event goes through the provider-event
 * record (once per id, in order per object) into billing's calls:
 *
 * - `checkout.session.completed`: attachProvider (its customer and subscription), then
 *   changePlan to the plan of its metadata;
 * - `customer.subscription.created`/`updated`: setStatus (trialing, active; past_due and
 *   unpaid are past_due; canceled and incomplete_expired are canceled);
 * - `customer.subscription.deleted`: setStatus canceled;
 * - `invoice.paid`: markInvoicePaid, for billing's invoices (metadata `invoiceId`);
 * - `invoice.payment_failed`: setStatus past_due on the invoice's subscription.
 *
 * Anything else is recorded as ignored.
 */
export class StripeWebhooks {
  readonly #options: StripeWebhooksOptions;

  constructor(options: StripeWebhooksOptions) {
    this.#options = options;
  }

  async receive(payload: Buffer, signature: string | undefined): Promise<WebhookAnswer> {
    const { events } = this.#options;
    let event: Stripe.Event;
    try {
      event = Stripe.webhooks.constructEvent(
        payload,
        signature ?? '',
        this.#options.webhookSecret,
        this.#options.toleranceS,
      );
    } catch (error) {
      const stale =
        error instanceof Stripe.errors.StripeSignatureVerificationError && /tolerance/i.test(error.message);
      const reason =
        error instanceof Stripe.errors.StripeSignatureVerificationError
          ? stale
            ? 'timestamp'
            : 'signature'
          : 'payload';
      await events.refuse('stripe', reason);
      return { status: 400, outcome: 'refused', message: REFUSALS[reason] };
    }
    const verified = verifiedOf(event);
    if (!verified) {
      await events.refuse('stripe', 'payload');
      return { status: 400, outcome: 'refused', message: REFUSALS.payload };
    }
    const outcome = await events.receive(verified, (trx, actor) =>
      this.#apply(event, { tenantId: verified.tenantId, actor, eventId: event.id }, trx),
    );
    return { status: 200, outcome };
  }

  #apply(
    event: Stripe.Event,
    cause: Omit<ProviderCause, 'tenantId'> & { tenantId: string | null },
    trx: Parameters<ApplyEvent>[0],
  ): Promise<Applied> {
    const { effects } = this.#options;
    const { tenantId } = cause;
    if (!tenantId) return ignored('names no tenant of billing');
    const base = { ...cause, tenantId };
    switch (event.type) {
      case 'checkout.session.completed': {
        const session = event.data.object;
        const customerId = idOf(session.customer);
        const subscriptionId = idOf(session.subscription);
        const planId = session.metadata?.planId;
        if (session.mode !== 'subscription' || !customerId || !subscriptionId || !planId) {
          return ignored('not a subscription checkout of billing');
        }
        return applied(
          () => effects.attachProvider(trx, { ...base, provider: 'stripe', customerId, subscriptionId }),
          () => effects.changePlan(trx, { ...base, planId }),
        );
      }
      case 'customer.subscription.created':
      case 'customer.subscription.updated':
      case 'customer.subscription.deleted': {
        const subscription = event.data.object;
        const status =
          event.type === 'customer.subscription.deleted' ? 'canceled' : STATUS_OF[subscription.status];
        if (!status) return ignored(`status ${subscription.status} changes nothing`);
        const trialEndsAt =
          status === 'trialing' && subscription.trial_end ? new Date(subscription.trial_end * 1000) : null;
        return applied(() =>
          effects.setStatus(trx, { ...base, subscriptionId: subscription.id, status, trialEndsAt }),
        );
      }
      case 'invoice.paid': {
        const invoice = event.data.object;
        const invoiceId = invoice.metadata?.invoiceId;
        if (!invoiceId) return ignored('not an invoice of billing');
        const paidAt = invoice.status_transitions.paid_at ?? event.created;
        return applied(() =>
          effects.markInvoicePaid(trx, {
            ...base,
            invoiceId,
            providerInvoiceId: invoice.id,
            paidAt: new Date(paidAt * 1000),
          }),
        );
      }
      case 'invoice.payment_failed': {
        const subscriptionId = idOf(event.data.object.parent?.subscription_details?.subscription ?? null);
        if (!subscriptionId) return ignored('not an invoice of a subscription');
        return applied(() =>
          effects.setStatus(trx, { ...base, subscriptionId, status: 'past_due', trialEndsAt: null }),
        );
      }
      default:
        return ignored('a type billing does not act on');
    }
  }
}

const REFUSALS = {
  signature: 'The Stripe-Signature header is missing or does not match the payload',
  timestamp: "The Stripe-Signature's timestamp is outside the tolerance",
  payload: 'The payload is not a Stripe event',
} as const;

/** The event as the provider-event record keeps it; undefined when it is not an event's shape. */
function verifiedOf(event: Stripe.Event): VerifiedEvent | undefined {
  const object = (event.data as { object?: { id?: unknown } } | undefined)?.object;
  if (
    typeof event.id !== 'string' ||
    !EVENT_ID.test(event.id) ||
    typeof event.type !== 'string' ||
    event.type.length > 128 ||
    typeof object?.id !== 'string' ||
    !OBJECT_ID.test(object.id) ||
    !Number.isSafeInteger(event.created) ||
    event.created < 0
  ) {
    return undefined;
  }
  return {
    provider: 'stripe',
    id: event.id,
    type: event.type,
    objectId: object.id,
    created: new Date(event.created * 1000),
    tenantId: tenantOf(event),
  };
}

/** The tenant billing's metadata names on the event's object, if any. */
function tenantOf(event: Stripe.Event): string | null {
  let candidate: unknown;
  switch (event.type) {
    case 'checkout.session.completed':
      candidate = event.data.object.client_reference_id ?? event.data.object.metadata?.tenantId;
      break;
    case 'customer.subscription.created':
    case 'customer.subscription.updated':
    case 'customer.subscription.deleted':
      candidate = event.data.object.metadata?.tenantId;
      break;
    case 'invoice.paid':
    case 'invoice.payment_failed':
      candidate =
        event.data.object.metadata?.tenantId ??
        event.data.object.parent?.subscription_details?.metadata?.tenantId;
      break;
    default:
      candidate = (event.data.object as { metadata?: Record<string, unknown> | null }).metadata?.tenantId;
  }
  return typeof candidate === 'string' && UUID.test(candidate) ? candidate.toLowerCase() : null;
}

function idOf(value: string | { id: string } | null | undefined): string | null {
  if (typeof value === 'string') return value;
  return value?.id ?? null;
}

/** Applied when any call applied; ignored when none changed anything. */
async function applied(...calls: (() => Promise<EffectOutcome>)[]): Promise<Applied> {
  let changed = false;
  for (const call of calls) if ((await call()) === 'applied') changed = true;
  return changed ? { outcome: 'applied' } : { outcome: 'ignored', reason: 'nothing to change' };
}

function ignored(reason: string): Promise<Applied> {
  return Promise.resolve({ outcome: 'ignored', reason });
}
