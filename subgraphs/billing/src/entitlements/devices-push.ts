import { signedPost, type MutualTls } from '@fleet/service-kit';

export interface DevicesEndpoint {
  /** Base URL of devices, without a trailing slash. */
  url: string;
  /** The key of the billing/devices pair. */
  key: Buffer;
  timeoutMs: number;
  /** Mutual TLS of the caller; undefined only where it was turned off. */
  tls?: MutualTls | undefined;
}

/** What billing tells devices of a tenant's plan. */
export interface EntitlementPush {
  tenantId: string;
  deviceQuota: number;
  version: number;
  /** Refuse a quota below the tenant's device count (a downgrade about to commit). */
  enforce: boolean;
}

/** Devices' answer: the tenant's count and quota after the push, or its refusal under `enforce`. */
export type PushAnswer =
  { outcome: 'stored' | 'stale'; deviceCount: number } | { outcome: 'refused'; deviceCount: number };

/**
 * Devices' `POST /entitlements`, signed as billing with the pair's key and no principal (the
 * push is billing's own). Throws when devices cannot be reached or answers outside its contract.
 */
export async function pushEntitlement(devices: DevicesEndpoint, push: EntitlementPush): Promise<PushAnswer> {
  const response = await signedPost({
    caller: 'billing',
    audience: 'devices',
    key: devices.key,
    baseUrl: devices.url,
    path: '/entitlements',
    body: JSON.stringify(push),
    timeoutMs: devices.timeoutMs,
    tls: devices.tls,
  });
  const answer = (await response.json().catch(() => undefined)) as Record<string, unknown> | undefined;
  const deviceCount = answer?.deviceCount;
  const counted = typeof deviceCount === 'number' && Number.isSafeInteger(deviceCount) && deviceCount >= 0;
  if (response.status === 409 && counted) return { outcome: 'refused', deviceCount };
  if (response.status === 200 && counted && typeof answer?.applied === 'boolean')
    return { outcome: answer.applied ? 'stored' : 'stale', deviceCount };
  throw new Error(`devices answered ${response.status} to an entitlement push`);
}
