import type { Kysely } from 'kysely';
import { HttpError, sendJson, type SignedRoute } from '@fleet/service-kit';
import type { BillingDatabase } from '../database/schema.js';
import { versionedEntitlementOf } from './entitlement-of.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * `POST /entitlements/lookup`: a tenant's entitlement, asked by devices (for a tenant whose
 * quota it does not know yet, signed with the key of the billing/devices pair) and by the
 * gateway (for the tenant's rate-limit tier, signed with its key to billing). `{ tenantId }`
 * answers `{ tenantId, planId, deviceQuota, rateLimitTier, version }`, the version fresh from
 * the sequence that numbers the entitlements billing pushes, so that devices keeps whichever
 * word is newer.
 */
export function lookupRoute(
  db: Kysely<BillingDatabase>,
  keys: { devices: Buffer; gateway: Buffer },
): Record<string, SignedRoute> {
  return {
    '/entitlements/lookup': {
      keys: new Map([
        ['devices', keys.devices],
        ['gateway', keys.gateway],
      ]),
      async handle(_request, body, res) {
        let parsed: unknown;
        try {
          parsed = JSON.parse(body.toString('utf8'));
        } catch {
          throw new HttpError(400, 'Malformed JSON in request body', 'BAD_USER_INPUT');
        }
        const tenantId = (parsed as { tenantId?: unknown } | null)?.tenantId;
        if (typeof tenantId !== 'string' || !UUID.test(tenantId))
          throw new HttpError(400, 'tenantId must be a UUID', 'BAD_USER_INPUT');
        const entitlement = await versionedEntitlementOf(db, tenantId.toLowerCase());
        sendJson(res, 200, {
          tenantId,
          planId: entitlement.planId,
          deviceQuota: entitlement.deviceQuota,
          rateLimitTier: entitlement.rateLimitTier,
          version: entitlement.version,
        });
      },
    },
  };
}
