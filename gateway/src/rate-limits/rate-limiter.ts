import { RateLimiterRes } from 'rate-limiter-flexible';
import {
  ConfigError,
  isPlatformReader,
  redisTlsOptions,
  type Logger,
  type Principal,
} from '@fleet/service-kit';
import { memoryCounters, redisCounters, type CounterStore } from './counter-store.js';
import { parseTiers, type RateLimitConfig, type TierBudget } from './rate-limit-config.js';

/** One budget a request spent from, as the RateLimit headers tell it. */
export interface Quota {
  policy: string;
  limit: number;
  remaining: number;
  /** Seconds until the window ends and the budget is full again. */
  resetS: number;
}

export type Admission =
  | { ok: true; quotas: Quota[] }
  | { ok: false; status: 429; quotas: Quota[]; retryAfterS: number }
  | { ok: false; status: 503; retryAfterS: number };

/** A budget to spend from: which policy, whose (key), how much it holds and what this costs. */
interface Spend {
  policy: string;
  key: string;
  limit: number;
  points: number;
}

/** The tier name of a tenant's plan; undefined for the default tier. */
export type PlanTierOf = (tenantId: string) => Promise<string | undefined>;

/** While Redis is away under the closed policy, clients are told to come back after this. */
const STORE_RETRY_AFTER_S = 5;

/**
 * The gateway's rate limits. Two moments spend from them:
 * - every HTTP request, before it is read, spends 1 from its client address's request budget;
 * - every operation, once its cost is known and before it is planned, spends that cost from the
 *   budgets of its caller: the person or API key and their tenant (by the tenant's tier), or the
 *   client address for callers without credentials. Signing in, refreshing a session and
 *   activating an account also spend 1 from a small per-address budget of their own.
 * Budgets are spent in order and the first one exhausted refuses the request.
 */
export class RateLimiter {
  readonly #config: RateLimitConfig;
  readonly #logger: Logger;
  readonly #tiers: Map<string, TierBudget>;
  readonly #store: CounterStore;
  /** Per-process counters, for the memory policy while Redis is away. */
  readonly #fallback: CounterStore;
  #storeDown = false;
  readonly #planTier: PlanTierOf | undefined;
  /** Tier names a plan named that are not configured, each warned of once. */
  readonly #unknownTiers = new Set<string>();

  /**
   * `planTier` names the tier of a tenant's plan (billing's word, see PlanTiers); without it, or
   * when it names none, a tenant has the default tier.
   */
  constructor(config: RateLimitConfig, logger: Logger, planTier?: PlanTierOf) {
    this.#config = config;
    this.#logger = logger;
    this.#planTier = planTier;
    try {
      this.#tiers = parseTiers(config.RATE_LIMIT_TIERS);
    } catch (error) {
      throw new ConfigError([`GATEWAY_RATE_LIMIT_TIERS: ${(error as Error).message}`]);
    }
    if (!this.#tiers.has(config.RATE_LIMIT_DEFAULT_TIER)) {
      throw new ConfigError([
        `GATEWAY_RATE_LIMIT_DEFAULT_TIER: must be one of ${[...this.#tiers.keys()].join(', ')}`,
      ]);
    }
    const windowS = config.RATE_LIMIT_WINDOW_S;
    this.#fallback = memoryCounters(windowS);
    this.#store = config.REDIS_URL
      ? redisCounters({
          url: config.REDIS_URL,
          tls: redisTlsOptions(config.REDIS_URL, config.REDIS_CA_FILE, 'GATEWAY_REDIS_CA_FILE'),
          namespace: config.RATE_LIMIT_NAMESPACE,
          windowS,
          logger,
        })
      : this.#fallback;
  }

  /** Every HTTP request, before it is read: 1 from its client address's budget. */
  admitRequest(address: string): Promise<Admission> {
    return this.#spend([
      {
        policy: 'address',
        key: address || 'unknown',
        limit: this.#config.RATE_LIMIT_ADDRESS_REQUESTS,
        points: 1,
      },
    ]);
  }

  /** An operation of known cost, before it is planned. */
  async admitOperation(caller: {
    principal: Principal;
    address: string;
    cost: number;
    signsIn: boolean;
  }): Promise<Admission> {
    const { principal, cost } = caller;
    const address = caller.address || 'unknown';
    const spends: Spend[] = [];
    if (caller.signsIn) {
      spends.push({
        policy: 'sign-in',
        key: address,
        limit: this.#config.RATE_LIMIT_SIGN_IN_REQUESTS,
        points: 1,
      });
    }
    switch (principal.kind) {
      case 'anonymous':
        spends.push({
          policy: 'anonymous',
          key: address,
          limit: this.#config.RATE_LIMIT_ANONYMOUS_POINTS,
          points: cost,
        });
        break;
      case 'user': {
        // The platform's own operators are nobody's customers: no plan sizes their budgets.
        const tier = await this.#tierOf(isPlatformReader(principal) ? null : principal.tenantId);
        spends.push({ policy: 'user', key: principal.userId, limit: tier.user, points: cost });
        if (principal.tenantId) {
          spends.push({ policy: 'tenant', key: principal.tenantId, limit: tier.tenant, points: cost });
        }
        break;
      }
      case 'apiKey': {
        const tier = await this.#tierOf(principal.tenantId);
        spends.push({ policy: 'api-key', key: principal.keyId, limit: tier.apiKey, points: cost });
        spends.push({ policy: 'tenant', key: principal.tenantId, limit: tier.tenant, points: cost });
        break;
      }
    }
    return this.#spend(spends);
  }

  close(): Promise<void> {
    return this.#store.close();
  }

  /**
   * A tenant's tier: the one its plan names, or the default tier for a caller without a tenant,
   * a plan that names none, or one that names a tier this gateway is not configured with (warned
   * of once per name).
   */
  async #tierOf(tenantId: string | null): Promise<TierBudget> {
    const fallback = this.#tiers.get(this.#config.RATE_LIMIT_DEFAULT_TIER)!;
    if (!tenantId || !this.#planTier) return fallback;
    const name = await this.#planTier(tenantId);
    if (name === undefined) return fallback;
    const tier = this.#tiers.get(name);
    if (tier) return tier;
    if (!this.#unknownTiers.has(name)) {
      this.#unknownTiers.add(name);
      this.#logger.warn(
        { tier: name, defaultTier: this.#config.RATE_LIMIT_DEFAULT_TIER },
        'a plan names a rate-limit tier GATEWAY_RATE_LIMIT_TIERS does not list: its tenants get the default tier',
      );
    }
    return fallback;
  }

  async #spend(spends: Spend[]): Promise<Admission> {
    const quotas: Quota[] = [];
    for (const spend of spends) {
      let result: RateLimiterRes | 'unavailable' | 'unlimited';
      try {
        result = await this.#consume(spend);
      } catch (refusal) {
        if (!(refusal instanceof RateLimiterRes)) throw refusal;
        quotas.push(quotaOf(spend, refusal));
        return {
          ok: false,
          status: 429,
          quotas,
          retryAfterS: Math.max(1, Math.ceil(refusal.msBeforeNext / 1000)),
        };
      }
      if (result === 'unavailable') return { ok: false, status: 503, retryAfterS: STORE_RETRY_AFTER_S };
      if (result !== 'unlimited') quotas.push(quotaOf(spend, result));
    }
    return { ok: true, quotas };
  }

  /**
   * Spends from one budget; rejects with a RateLimiterRes when it is exhausted. When the store
   * fails, the configured policy answers: refuse, count in this process, or let it pass.
   */
  async #consume(spend: Spend): Promise<RateLimiterRes | 'unavailable' | 'unlimited'> {
    let result: RateLimiterRes;
    try {
      result = await this.#store.limiter(spend.policy, spend.limit).consume(spend.key, spend.points);
    } catch (error) {
      if (error instanceof RateLimiterRes) {
        this.#storeReachable();
        throw error;
      }
      this.#storeUnreachable(error);
      switch (this.#config.RATE_LIMIT_STORE_FAILURE) {
        case 'closed':
          return 'unavailable';
        case 'open':
          return 'unlimited';
        case 'memory':
          return this.#fallback.limiter(spend.policy, spend.limit).consume(spend.key, spend.points);
      }
    }
    this.#storeReachable();
    return result;
  }

  #storeUnreachable(error: unknown): void {
    if (this.#storeDown) return;
    this.#storeDown = true;
    const consequence = {
      closed: 'refusing every request (503) until it is back',
      memory: 'counting in this process only until it is back',
      open: 'admitting requests without limits until it is back',
    }[this.#config.RATE_LIMIT_STORE_FAILURE];
    this.#logger.error(
      {
        policy: this.#config.RATE_LIMIT_STORE_FAILURE,
        reason: error instanceof Error ? error.message : String(error),
      },
      `rate-limit store (Redis) unreachable: ${consequence} (GATEWAY_RATE_LIMIT_STORE_FAILURE=${this.#config.RATE_LIMIT_STORE_FAILURE})`,
    );
  }

  #storeReachable(): void {
    if (!this.#storeDown) return;
    this.#storeDown = false;
    this.#logger.warn('rate-limit store (Redis) reachable again: counting there');
  }
}

function quotaOf(spend: Spend, result: RateLimiterRes): Quota {
  return {
    policy: spend.policy,
    limit: spend.limit,
    remaining: Math.max(0, result.remainingPoints),
    resetS: Math.max(0, Math.ceil(result.msBeforeNext / 1000)),
  };
}
