import { LruCache, signedPost, type Logger, type MutualTls } from '@fleet/service-kit';

/** Asks billing which rate-limit tier a tenant's plan names; throws when billing cannot answer. */
export type TierLookup = (tenantId: string, signal: AbortSignal) => Promise<string>;

/**
 * Billing's `POST /entitlements/lookup`, asked by the gateway with the key it signs its billing
 * calls with (caller `gateway`, no principal: the question is the gateway's own). Billing's base
 * URL is its GraphQL endpoint's (`GATEWAY_BILLING_URL`) without `/graphql`.
 */
export function billingTierLookup(
  billingGraphqlUrl: string,
  key: Buffer,
  tls: MutualTls | undefined,
  timeoutMs = 3_000,
): TierLookup {
  const baseUrl = billingGraphqlUrl.replace(/\/graphql$/, '');
  return async (tenantId, signal) => {
    const response = await signedPost({
      caller: 'gateway',
      audience: 'billing',
      key,
      baseUrl,
      path: '/entitlements/lookup',
      body: JSON.stringify({ tenantId }),
      timeoutMs,
      signal,
      tls,
    });
    if (response.status !== 200) {
      await response.body?.cancel();
      throw new Error(`billing answered ${response.status} to an entitlement lookup`);
    }
    const answer = (await response.json().catch(() => undefined)) as Record<string, unknown> | undefined;
    const tier = answer?.rateLimitTier;
    if (typeof tier !== 'string' || tier === '' || answer?.tenantId !== tenantId)
      throw new Error('billing answered an entitlement lookup outside the contract');
    return tier;
  };
}

export interface PlanTiersOptions {
  lookup: TierLookup;
  /** How long a tenant's tier is used before billing is asked again. */
  ttlMs: number;
  logger: Logger;
  /** Tenants whose tier is kept at once; the least recently used goes first. */
  maxEntries?: number;
  /** The clock, in milliseconds since the epoch (tests set it). */
  now?: () => number;
}

interface Entry {
  /** The tier billing last named; undefined when it never answered (the default tier then). */
  tier: string | undefined;
  until: number;
}

/** While billing cannot answer, a tenant's fallback is kept this long at most before asking again. */
const FAILURE_TTL_MS = 5_000;

/**
 * The rate-limit tier of each tenant's plan, as billing tells it, cached per tenant for `ttlMs`
 * so that a tenant's steady traffic costs billing one question per interval. Concurrent
 * questions about one tenant share one call. When billing cannot answer, the tenant keeps the
 * tier it was last known to have (or the default tier when it never was), the failure is
 * logged once until billing answers again, and billing is asked again a few seconds later.
 */
export class PlanTiers {
  readonly #options: PlanTiersOptions;
  readonly #now: () => number;
  readonly #cache: LruCache<string, Entry>;
  readonly #asking = new Map<string, Promise<string | undefined>>();
  readonly #closing = new AbortController();
  #billingDown = false;

  constructor(options: PlanTiersOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#cache = new LruCache(options.maxEntries ?? 10_000);
  }

  /** The tier name the tenant's plan names; undefined means the default tier. */
  async tierOf(tenantId: string): Promise<string | undefined> {
    const cached = this.#cache.get(tenantId);
    if (cached && cached.until > this.#now()) return cached.tier;
    let asking = this.#asking.get(tenantId);
    if (!asking) {
      asking = this.#ask(tenantId, cached).finally(() => this.#asking.delete(tenantId));
      this.#asking.set(tenantId, asking);
    }
    return asking;
  }

  /** Abandons the questions under way (they answer what is known). */
  close(): void {
    this.#closing.abort();
  }

  async #ask(tenantId: string, known: Entry | undefined): Promise<string | undefined> {
    try {
      const tier = await this.#options.lookup(tenantId, this.#closing.signal);
      if (this.#billingDown) {
        this.#billingDown = false;
        this.#options.logger.info("billing answers again: tenants' rate-limit tiers follow their plans");
      }
      this.#cache.set(tenantId, { tier, until: this.#now() + this.#options.ttlMs });
      return tier;
    } catch (error) {
      if (this.#closing.signal.aborted) return known?.tier;
      if (!this.#billingDown) {
        this.#billingDown = true;
        this.#options.logger.warn(
          { reason: error instanceof Error ? error.message : String(error) },
          "cannot ask billing for tenants' plans: each keeps its last known rate-limit tier, or the default, until billing answers",
        );
      }
      const ttl = Math.min(this.#options.ttlMs, FAILURE_TTL_MS);
      this.#cache.set(tenantId, { tier: known?.tier, until: this.#now() + ttl });
      return known?.tier;
    }
  }
}
