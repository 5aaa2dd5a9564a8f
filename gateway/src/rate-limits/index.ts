export { rateLimitConfigSpec, type RateLimitConfig } from './rate-limit-config.js';
export { refusalHeaders } from './rate-limit-headers.js';
export { rateLimitPlugin, rateLimitRefusal } from './rate-limit-plugin.js';
export { RateLimiter, type Admission, type Quota } from './rate-limiter.js';
