export { attachGraphQLWs, type GraphQLWsTransport } from './graphql-ws-transport.js';
export { sseHandler, wantsEventStream } from './sse-transport.js';
export { subscriptionConfigSpec, type SubscriptionConfig } from './subscription-config.js';
export { SubscriptionHub } from './subscription-hub.js';
export { CurrentPlanner, SubscriptionPlanner } from './subscription-planner.js';
export { SubscriptionService } from './subscription-service.js';
export { Subscribers } from './subscribers.js';
export { UpstreamConnections } from './upstream-connections.js';
