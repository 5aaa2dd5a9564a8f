import { HttpError, sendJson, type SignedRoute } from '@fleet/service-kit';
import { isUuid } from '../registry/device-input.js';
import { isCount } from './billing-lookup.js';
import type { TenantEntitlements } from './tenant-entitlements.js';

/** The most devices a plan may allow, as devices stores it (an integer column). */
const MAX_QUOTA = 2_147_483_647;

/**
 * Where billing pushes a tenant's entitlement (`POST /entitlements`), accepted from billing only,
 * signed with the key of the billing/devices pair. The body is
 * `{ tenantId, deviceQuota, version, enforce }`; the answer `{ tenantId, deviceCount, deviceQuota,
 * version, applied }` tells the state after it, `applied: false` when a word at least as new was
 * already stored. With `enforce` (a downgrade billing is about to commit), a quota below the
 * tenant's device count is refused with 409 `CONFLICT`, answering `deviceCount` and `deviceQuota`
 * besides the error, and nothing changes.
 */
export function entitlementRoute(
  billingKey: Buffer,
  entitlements: TenantEntitlements,
): Record<string, SignedRoute> {
  return {
    '/entitlements': {
      keys: new Map([['billing', billingKey]]),
      async handle(request, body, res) {
        const push = validatePush(body);
        const outcome = await entitlements.apply(
          push.tenantId,
          { deviceQuota: push.deviceQuota, version: push.version },
          push.enforce,
        );
        if (outcome.outcome === 'refused') {
          request.logger.info(
            { tenantId: push.tenantId, deviceCount: outcome.deviceCount, deviceQuota: outcome.deviceQuota },
            "refused an entitlement below the tenant's device count",
          );
          const refusal = new HttpError(
            409,
            `The tenant has ${outcome.deviceCount} devices, more than the ${outcome.deviceQuota} of the plan`,
            'CONFLICT',
          );
          sendJson(res, 409, {
            ...refusal.toBody(),
            deviceCount: outcome.deviceCount,
            deviceQuota: outcome.deviceQuota,
          });
          return;
        }
        const applied = outcome.outcome === 'applied';
        request.logger.info(
          { tenantId: push.tenantId, deviceQuota: push.deviceQuota, version: push.version, applied },
          applied ? 'entitlement stored' : 'ignored an entitlement older than the stored one',
        );
        sendJson(res, 200, {
          tenantId: push.tenantId,
          deviceCount: outcome.deviceCount,
          deviceQuota: outcome.deviceQuota,
          version: outcome.version,
          applied,
        });
      },
    },
  };
}

interface EntitlementPush {
  tenantId: string;
  deviceQuota: number;
  version: number;
  enforce: boolean;
}

/** The push as sent, or a 400 naming what is wrong with it. */
function validatePush(body: Buffer): EntitlementPush {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw new HttpError(400, 'Malformed JSON in request body', 'BAD_USER_INPUT');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new HttpError(400, 'The body must be a JSON object', 'BAD_USER_INPUT');
  const { tenantId, deviceQuota, version, enforce } = parsed as Record<string, unknown>;
  const refuse = (message: string) => new HttpError(400, message, 'BAD_USER_INPUT');
  if (typeof tenantId !== 'string' || !isUuid(tenantId)) throw refuse('tenantId must be a UUID');
  if (!isCount(deviceQuota) || deviceQuota > MAX_QUOTA)
    throw refuse(`deviceQuota must be a whole number from 0 to ${MAX_QUOTA}`);
  if (!isCount(version) || version < 1) throw refuse('version must be a whole number from 1');
  if (typeof enforce !== 'boolean') throw refuse('enforce must be true or false');
  return { tenantId: tenantId.toLowerCase(), deviceQuota, version, enforce };
}
