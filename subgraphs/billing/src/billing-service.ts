import { applyMiddleware } from 'graphql-middleware';
import { createOutboxRelay, restoreRoute } from '@fleet/outbox';
import { intervalTask, startSubgraph, type Logger, type StartedService } from '@fleet/service-kit';
import { permissions } from './access/permissions.js';
import type { BillingConfig } from './config.js';
import { migrations } from './database/migrations.js';
import { EntitlementSync } from './entitlements/entitlement-sync.js';
import { lookupRoute } from './entitlements/lookup-route.js';
import type { BillingDatabase } from './database/schema.js';
import { setUpInvoicing } from './invoices/invoicing.js';
import { manualProvider } from './payments/manual/manual-provider.js';
import { billingPaymentEffects } from './payments/billing-payment-effects.js';
import { paymentProviderOf, stripeSettingsOf } from './payments/payment-provider-of.js';
import { ProviderEvents } from './payments/provider-events.js';
import { stripeWebhookRoute } from './payments/stripe/stripe-webhook-route.js';
import { StripeWebhooks } from './payments/stripe/stripe-webhooks.js';
import { PlanCatalog } from './plans/plan-catalog.js';
import { resolvers, type BillingContext } from './resolvers.js';
import { subscriptionRestore } from './subscriptions/subscription-restore.js';
import { BILLING_ACTOR, Subscriptions } from './subscriptions/subscriptions.js';

/**
 * Longest billing waits for devices to take a pushed quota. A downgrade waits for it inside its
 * transaction, holding the subscription's lock, so it is short.
 */
const ENFORCE_TIMEOUT_MS = 5_000;

export async function startBilling(config: BillingConfig, logger: Logger): Promise<StartedService> {
  // Before anything starts: a stripe provider without its settings is a ConfigError.
  const provider = paymentProviderOf(config);
  return startSubgraph<BillingDatabase, BillingContext>({
    name: 'billing',
    config,
    logger,
    migrations,
    schema: new URL('../schema.graphql', import.meta.url),
    resolvers,
    wrapSchema: (schema) => applyMiddleware(schema, permissions),
    peerUrls: { AUDIT_URL: config.AUDIT_URL, DEVICES_URL: config.DEVICES_URL },
    setup: (db, { tls }) => {
      const relay = createOutboxRelay(db, 'billing', config, logger, tls);
      const plans = new PlanCatalog(db, () => relay.notify());
      const entitlements = new EntitlementSync({
        db,
        devices: { url: config.DEVICES_URL, key: config.KEY_DEVICES, timeoutMs: ENFORCE_TIMEOUT_MS, tls },
        intervalMs: config.ENTITLEMENT_SYNC_INTERVAL_S * 1000,
        logger: logger.child({ component: 'entitlements' }),
      });
      const subscriptions = new Subscriptions({
        db,
        provider,
        entitlements,
        onEvent: () => relay.notify(),
      });
      const trials = intervalTask({
        name: 'end due trials',
        everyMs: config.LIFECYCLE_INTERVAL_S * 1000,
        logger,
        run: async () => {
          await subscriptions.endTrials(BILLING_ACTOR);
        },
      });
      const invoicing = setUpInvoicing({
        db,
        config,
        logger,
        tls,
        subscriptions,
        // A tenant keeps the provider it signed up with: its invoices may name manual still.
        providers: provider.name === 'manual' ? [provider] : [manualProvider, provider],
        onEvent: () => relay.notify(),
      });
      const webhooks =
        provider.name === 'stripe'
          ? stripeWebhookRoute(
              new StripeWebhooks({
                webhookSecret: stripeSettingsOf(config).webhookSecret,
                toleranceS: config.STRIPE_WEBHOOK_TOLERANCE_S,
                // After an event's changes commit: the outbox and the entitlements learn of them.
                events: new ProviderEvents(db, logger.child({ component: 'provider-events' }), () => {
                  relay.notify();
                  entitlements.notify();
                }),
                effects: billingPaymentEffects(subscriptions, invoicing.services.payments),
              }),
              config.KEY_GATEWAY,
            )
          : {};
      return {
        context: (request) => ({ plans, subscriptions, invoices: invoicing.services, request }),
        workers: [relay, trials, entitlements, ...invoicing.workers],
        routes: {
          // Audit's restores, signed with the key billing ships its events to audit with.
          ...restoreRoute(config.KEY_AUDIT, {
            subscription: subscriptionRestore(plans, subscriptions, db),
          }),
          // Stripe's deliveries, forwarded by the gateway.
          ...webhooks,
          // Devices and the gateway ask a tenant's entitlement, each signing with its own key.
          ...lookupRoute(db, { devices: config.KEY_DEVICES, gateway: config.KEY_GATEWAY }),
        },
      };
    },
  });
}
