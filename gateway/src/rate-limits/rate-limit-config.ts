import { integer, oneOf, optionalString, redisUrl, string, type ConfigOf } from '@fleet/service-kit';

/** What a tenant's plan tier allows per window, in cost points. */
export interface TierBudget {
  tenant: number;
  user: number;
  apiKey: number;
}

const TIER = /^([a-z][a-z0-9-]{0,31})=(\d{1,9})\/(\d{1,9})\/(\d{1,9})$/;

/**
 * Parses `name=tenant/user/apiKey,…`: per tier, the points a tenant, each of its people and each
 * of its API keys may spend in one window. Throws a message naming the bad entry.
 */
export function parseTiers(text: string): Map<string, TierBudget> {
  const tiers = new Map<string, TierBudget>();
  for (const entry of text.split(',').map((part) => part.trim())) {
    const match = TIER.exec(entry);
    if (!match) throw new Error(`"${entry}" is not name=tenant/user/apiKey (whole numbers of points)`);
    const [, name, tenant, user, apiKey] = match as unknown as [string, string, string, string, string];
    const budget = { tenant: Number(tenant), user: Number(user), apiKey: Number(apiKey) };
    if (budget.tenant < 1 || budget.user < 1 || budget.apiKey < 1) {
      throw new Error(`tier ${name} must allow at least 1 point in each bucket`);
    }
    if (tiers.has(name)) throw new Error(`tier ${name} is listed twice`);
    tiers.set(name, budget);
  }
  return tiers;
}

const DEFAULT_TIERS = 'free=50000/20000/20000,standard=300000/100000/150000,enterprise=1500000/300000/750000';

/** Read with the gateway's prefix: `REDIS_URL` is `GATEWAY_REDIS_URL`. */
export const rateLimitConfigSpec = {
  REDIS_URL: redisUrl({
    doc: 'Redis holding the rate-limit counters, shared by every gateway replica (`redis://` or `rediss://`); unset keeps them in the process.',
  }),
  REDIS_CA_FILE: optionalString({
    doc: 'PEM authority a `rediss://` Redis server is verified against; unset means the system’s authorities.',
  }),
  RATE_LIMIT_NAMESPACE: string({
    doc: 'Prefix of the rate-limit keys in Redis: gateways with the same one share their budgets.',
    default: 'fleet',
    pattern: /^[A-Za-z0-9_-]{1,64}$/,
  }),
  RATE_LIMIT_STORE_FAILURE: oneOf(['closed', 'memory', 'open'], {
    doc: 'When Redis cannot be reached: closed refuses requests (503), memory counts in each process until it is back, open admits everything. Each change is logged.',
    default: 'closed',
  }),
  RATE_LIMIT_WINDOW_S: integer({
    doc: 'Length of a rate-limit window, in seconds: every budget below is per window.',
    default: 60,
    min: 1,
    max: 86_400,
  }),
  RATE_LIMIT_TIERS: string({
    doc: 'Budgets per plan tier, in cost points (an operation spends its estimated cost): `name=tenant/user/apiKey,…`.',
    default: DEFAULT_TIERS,
    pattern: /^\s*[a-z][a-z0-9-]{0,31}=\d+\/\d+\/\d+(\s*,\s*[a-z][a-z0-9-]{0,31}=\d+\/\d+\/\d+)*\s*$/,
  }),
  RATE_LIMIT_DEFAULT_TIER: string({
    doc: "The tier of tenants whose plan names none, or one RATE_LIMIT_TIERS does not list, and of every tenant while billing has never answered; must be one of RATE_LIMIT_TIERS'.",
    default: 'standard',
  }),
  PLAN_TIER_CACHE_S: integer({
    doc: "How long the gateway uses a tenant's rate-limit tier (its plan's, asked of billing) before asking again: a plan change reaches the rate limits within this.",
    default: 30,
    min: 1,
    max: 3_600,
  }),
  RATE_LIMIT_ANONYMOUS_POINTS: integer({
    doc: 'Cost points per client address for callers without credentials.',
    default: 2_000,
    min: 1,
    max: 100_000_000,
  }),
  RATE_LIMIT_SIGN_IN_REQUESTS: integer({
    doc: 'Sign-ins, session refreshes and account activations per client address.',
    default: 30,
    min: 1,
    max: 100_000_000,
  }),
  RATE_LIMIT_ADDRESS_REQUESTS: integer({
    doc: 'HTTP requests per client address, whoever sends them: counted before the request is read.',
    default: 6_000,
    min: 1,
    max: 100_000_000,
  }),
};

export type RateLimitConfig = ConfigOf<typeof rateLimitConfigSpec>;
