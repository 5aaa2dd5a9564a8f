import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { EventActor } from '@fleet/outbox';
import { createLogger, type Engine } from '@fleet/service-kit';
import {
  startStripeSim,
  type CustomerDetails,
  type SigningOptions,
  type StripeEvent,
  type StripeSim,
} from '@fleet/stripe-sim';
import type { BillingDatabase } from '../../subgraphs/billing/src/database/schema.js';
import { InvoiceIssuer } from '../../subgraphs/billing/src/invoices/invoice-issuer.js';
import { InvoicePayments } from '../../subgraphs/billing/src/invoices/invoice-payments.js';
import { billingPaymentEffects } from '../../subgraphs/billing/src/payments/billing-payment-effects.js';
import { manualProvider } from '../../subgraphs/billing/src/payments/manual/manual-provider.js';
import type { PaymentEffects } from '../../subgraphs/billing/src/payments/payment-effects.js';
import { ProviderEvents } from '../../subgraphs/billing/src/payments/provider-events.js';
import {
  createStripeProvider,
  type StripeProvider,
} from '../../subgraphs/billing/src/payments/stripe/stripe-provider.js';
import {
  StripeWebhooks,
  type WebhookAnswer,
} from '../../subgraphs/billing/src/payments/stripe/stripe-webhooks.js';
import { Subscriptions } from '../../subgraphs/billing/src/subscriptions/subscriptions.js';
import { UsageMeter } from '../../subgraphs/billing/src/usage/usage-meter.js';
import { openBillingTestDatabase } from './billing-database.js';

/** The signature tolerance of the webhooks, in seconds. */
export const WEBHOOK_TOLERANCE_S = 300;

/** A tenant whose owner went through Checkout; its two events not delivered yet. */
export interface CheckedOut {
  tenantId: string;
  sessionId: string;
  customerId: string;
  subscriptionId: string;
  /** `customer.subscription.created`, then `checkout.session.completed`. */
  created: StripeEvent;
  completed: StripeEvent;
}

export interface StripeBilling {
  sim: StripeSim;
  db: Kysely<BillingDatabase>;
  provider: StripeProvider;
  subscriptions: Subscriptions;
  issuer: InvoiceIssuer;
  payments: InvoicePayments;
  webhooks: StripeWebhooks;
  /** Billing's clock; the real time until a test sets it (null: the real time again). */
  setClock(at: Date | string | null): void;
  now(): Date;
  /** How many times billing told the outbox (and the entitlements) of a commit. */
  readonly notified: number;
  /** Delivers an event as the gateway hands it over: its exact payload and a signature of it. */
  deliver(event: StripeEvent, signing?: SigningOptions): Promise<WebhookAnswer>;
  /** The tenant's owner opens Checkout through billing, then completes it at Stripe. */
  checkout(options?: { tenantId?: string; planId?: string; details?: CustomerDetails }): Promise<CheckedOut>;
  close(): Promise<void>;
}

/**
 * Billing's subscription, invoicing and webhook code on a fresh billing database of the engine,
 * wired as the billing service wires them on the stripe provider: the real SDK against a
 * stripe-sim, Stripe's events applied by billing's own effects, billing's clock in the test's
 * hands. `effects` may put a fault in the way of billing's effects. Devices is not there: its
 * entitlements take every quota (the webhook route's tests run billing beside a real devices),
 * and device presence is read from `device_presence`, which a test fills itself.
 */
export async function startStripeBilling(
  engine: Engine,
  options: { effects?: (billing: PaymentEffects) => PaymentEffects } = {},
): Promise<StripeBilling> {
  const logger = createLogger({ service: 'test', level: 'silent' });
  const sim = await startStripeSim();
  const billing = await openBillingTestDatabase(engine).catch(async (error: unknown) => {
    await sim.stop();
    throw error;
  });
  const { db } = billing.database;
  let clock: Date | null = null;
  const now = () => clock ?? new Date();
  let notified = 0;
  const onEvent = () => {
    notified++;
  };
  const provider = createStripeProvider({
    secretKey: sim.secretKey,
    apiUrl: sim.url,
    timeoutMs: 5_000,
    successUrl: 'https://fleet.example/billing/subscribed',
    cancelUrl: 'https://fleet.example/billing',
  });
  const subscriptions = new Subscriptions({
    db,
    provider,
    entitlements: { enforce: () => Promise.resolve(), notify: onEvent },
    onEvent,
    now,
  });
  const issuer = new InvoiceIssuer({
    db,
    subscriptions,
    presence: new UsageMeter({ db, feed: { after: () => Promise.resolve([]) }, now }),
    providers: new Map([
      [manualProvider.name, manualProvider],
      [provider.name, provider],
    ]),
    dueDays: 14,
    onEvent,
    logger,
    now,
  });
  const payments = new InvoicePayments({ db, subscriptions, onEvent, logger, now });
  const effects = billingPaymentEffects(subscriptions, payments);
  const webhooks = new StripeWebhooks({
    webhookSecret: sim.webhookSecret,
    toleranceS: WEBHOOK_TOLERANCE_S,
    events: new ProviderEvents(db, logger, onEvent),
    effects: options.effects ? options.effects(effects) : effects,
  });
  const owner: EventActor = { kind: 'user', id: randomUUID() };

  return {
    sim,
    db,
    provider,
    subscriptions,
    issuer,
    payments,
    webhooks,
    setClock(at) {
      clock = at === null ? null : new Date(at);
    },
    now,
    get notified() {
      return notified;
    },
    deliver(event, signing = {}) {
      const { payload, signature } = sim.signed(event.id, signing);
      return webhooks.receive(Buffer.from(payload), signature);
    },
    async checkout({ tenantId = randomUUID(), planId = 'pro', details } = {}) {
      const session = await subscriptions.startCheckout(tenantId, planId, owner);
      const { events } = await sim.completeCheckout(session.id, details);
      const created = events.find((event) => event.type === 'customer.subscription.created')!;
      const completed = events.find((event) => event.type === 'checkout.session.completed')!;
      return {
        tenantId,
        sessionId: session.id,
        customerId: String(sim.object(session.id)!.customer),
        subscriptionId: String(created.data.object.id),
        created,
        completed,
      };
    },
    async close() {
      await sim.stop();
      await billing.close();
    },
  };
}
