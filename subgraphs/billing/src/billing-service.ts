import { applyMiddleware } from 'graphql-middleware';
import { createOutboxRelay, restoreRoute } from '@fleet/outbox';
import { intervalTask, startSubgraph, type Logger, type StartedService } from '@fleet/service-kit';
import { permissions } from './access/permissions.js';
import type { BillingConfig } from './config.js';
import { migrations } from './database/migrations.js';
import type { BillingDatabase } from './database/schema.js';
import { manualProvider } from './payments/manual/manual-provider.js';
import { PlanCatalog } from './plans/plan-catalog.js';
import { resolvers, type BillingContext } from './resolvers.js';
import { subscriptionRestore } from './subscriptions/subscription-restore.js';
import { BILLING_ACTOR, Subscriptions, type EntitlementGuard } from './subscriptions/subscriptions.js';

export function startBilling(config: BillingConfig, logger: Logger): Promise<StartedService> {
  return startSubgraph<BillingDatabase, BillingContext>({
    name: 'billing',
    config,
    logger,
    migrations,
    schema: new URL('../schema.graphql', import.meta.url),
    resolvers,
    wrapSchema: (schema) => applyMiddleware(schema, permissions),
    setup: (db) => {
      const relay = createOutboxRelay(db, 'billing', config, logger);
      const plans = new PlanCatalog(db, () => relay.notify());
      // PLACEHOLDER until the entitlements land: nothing reaches devices yet.
      const entitlements: EntitlementGuard = { enforce: () => Promise.resolve(), notify: () => {} };
      const subscriptions = new Subscriptions({
        db,
        provider: manualProvider,
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
      return {
        context: (request) => ({ plans, subscriptions, request }),
        workers: [relay, trials],
        // Audit's restores, signed with the key billing ships its events to audit with.
        routes: restoreRoute(config.KEY_AUDIT, {
          subscription: subscriptionRestore(plans, subscriptions, db),
        }),
      };
    },
  });
}
