import { signedPost, type MutualTls } from '@fleet/service-kit';

/** What billing says of a tenant's plan that devices keeps: its device quota, and when it said so. */
export interface PlanEntitlement {
  deviceQuota: number;
  /** Billing's sequence: a word with a higher version is newer. */
  version: number;
}

/** Asks billing for a tenant's entitlement; throws when billing cannot answer. */
export type EntitlementLookup = (tenantId: string) => Promise<PlanEntitlement>;

export interface BillingLookupOptions {
  /** Base URL of billing, without a trailing slash. */
  baseUrl: string;
  /** The key of the billing/devices pair. */
  key: Buffer;
  timeoutMs?: number;
  /** Mutual TLS of the caller; undefined only where it was turned off. */
  tls?: MutualTls | undefined;
}

/**
 * Billing's `POST /entitlements/lookup`, asked as devices (signed with the pair's key, with no
 * principal: the question is the service's own): `{ tenantId }` answers
 * `{ tenantId, planId, deviceQuota, rateLimitTier, version }`. An answer of another status or
 * shape is an error, as is no answer.
 */
export function billingLookup(options: BillingLookupOptions): EntitlementLookup {
  return async (tenantId) => {
    const response = await signedPost({
      caller: 'devices',
      audience: 'billing',
      key: options.key,
      baseUrl: options.baseUrl,
      path: '/entitlements/lookup',
      body: JSON.stringify({ tenantId }),
      timeoutMs: options.timeoutMs ?? 5_000,
      tls: options.tls,
    });
    if (response.status !== 200) {
      await response.body?.cancel();
      throw new Error(`billing answered ${response.status} to an entitlement lookup`);
    }
    const answer = (await response.json().catch(() => undefined)) as Record<string, unknown> | undefined;
    const { deviceQuota, version } = answer ?? {};
    if (
      typeof answer?.tenantId !== 'string' ||
      answer.tenantId.toLowerCase() !== tenantId.toLowerCase() ||
      !isCount(deviceQuota) ||
      !isCount(version) ||
      version < 1
    ) {
      throw new Error('billing answered an entitlement lookup outside the contract');
    }
    return { deviceQuota, version };
  };
}

/** A whole number from 0, exactly representable. */
export function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}
