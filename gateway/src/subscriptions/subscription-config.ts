import { integer, type ConfigOf } from '@fleet/service-kit';

/** Read with the prefix GATEWAY_. */
export const subscriptionConfigSpec = {
  MAX_SUBSCRIPTIONS: integer({
    doc: 'Most subscriptions the gateway process serves at once, over WebSocket and SSE together.',
    default: 50_000,
    min: 1,
    max: 1_000_000,
  }),
  MAX_SUBSCRIPTIONS_PER_PRINCIPAL: integer({
    doc: 'Most subscriptions one person or API key may hold open at once (per gateway process).',
    default: 100,
    min: 1,
    max: 100_000,
  }),
  MAX_SUBSCRIPTIONS_PER_TENANT: integer({
    doc: "Most subscriptions one tenant's people and API keys may hold open at once (per gateway process).",
    default: 5_000,
    min: 1,
    max: 1_000_000,
  }),
  MAX_SUBSCRIPTION_CONNECTIONS_PER_PRINCIPAL: integer({
    doc: 'Most WebSocket connections one person or API key may hold open at once (per gateway process).',
    default: 20,
    min: 1,
    max: 10_000,
  }),
  SUBSCRIPTION_BUFFER: integer({
    doc: 'Events kept for a subscriber that reads slower than they come; past it the oldest are dropped (status is latest-value).',
    default: 16,
    min: 1,
    max: 10_000,
  }),
  SUBSCRIPTION_KEEPALIVE_MS: integer({
    doc: 'How often an idle subscription connection is pinged (WebSocket) or sent a comment (SSE).',
    default: 12_000,
    min: 1_000,
    max: 120_000,
  }),
  SUBSCRIPTION_RETRY_MAX_MS: integer({
    doc: 'Longest pause between attempts to reopen a subscription on a subgraph that went away (the pauses double from 250 ms, with jitter).',
    default: 10_000,
    min: 250,
    max: 300_000,
  }),
  SUBSCRIPTION_PLAN_CACHE: integer({
    doc: 'Subscription plans kept, by document, least recently used first out.',
    default: 1_000,
    min: 10,
    max: 100_000,
  }),
};

export type SubscriptionConfig = ConfigOf<typeof subscriptionConfigSpec>;
