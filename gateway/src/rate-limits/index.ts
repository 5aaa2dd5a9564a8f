export { rateLimitConfigSpec, type RateLimitConfig } from './rate-limit-config.js';
export { refusalHeaders } from './rate-limit-headers.js';
export { rateLimitPlugin, rateLimitRefusal } from './rate-limit-plugin.js';
export { billingTierLookup, PlanTiers, type PlanTiersOptions, type TierLookup } from './plan-tiers.js';
export { RateLimiter, type Admission, type PlanTierOf, type Quota } from './rate-limiter.js';
