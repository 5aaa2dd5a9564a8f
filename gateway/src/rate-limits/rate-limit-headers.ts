import type { Quota } from './rate-limiter.js';

/**
 * The IETF RateLimit header fields (draft-ietf-httpapi-ratelimit-headers): `RateLimit-Policy`
 * names each budget the request spent from with its quota (q) and window (w), and `RateLimit`
 * tells what is left of each (r) and in how many seconds it is full again (t).
 */
export function rateLimitHeaders(quotas: readonly Quota[], windowS: number): Record<string, string> {
  if (quotas.length === 0) return {};
  return {
    'ratelimit-policy': quotas.map((quota) => `"${quota.policy}";q=${quota.limit};w=${windowS}`).join(', '),
    ratelimit: quotas.map((quota) => `"${quota.policy}";r=${quota.remaining};t=${quota.resetS}`).join(', '),
  };
}

/** Headers of a refusal: the budgets, and when to come back. */
export function refusalHeaders(
  admission: { quotas?: readonly Quota[]; retryAfterS: number },
  windowS: number,
): Record<string, string> {
  return {
    ...rateLimitHeaders(admission.quotas ?? [], windowS),
    'retry-after': String(admission.retryAfterS),
  };
}
