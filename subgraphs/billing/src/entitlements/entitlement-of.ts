import { sql, type Kysely } from 'kysely';
import type { BillingDatabase } from '../database/schema.js';
import { FREE_PLAN_ID } from '../plans/plan-catalog.js';

/** What a tenant's plan entitles it to, as devices and the gateway apply it. */
export interface Entitlement {
  tenantId: string;
  planId: string;
  planName: string;
  deviceQuota: number;
  rateLimitTier: string;
}

/** An entitlement with its version: a word with a higher version is newer. */
export interface VersionedEntitlement extends Entitlement {
  version: number;
}

/**
 * A tenant's entitlement: the plan of its subscription row (a canceled subscription's is the
 * free plan), or the free plan for a tenant that never left it. `tenantId` in lower case.
 */
export async function entitlementOf(db: Kysely<BillingDatabase>, tenantId: string): Promise<Entitlement> {
  const subscribed = await db
    .selectFrom('subscription')
    .select('plan_id')
    .where('tenant_id', '=', tenantId)
    .executeTakeFirst();
  const plan = await db
    .selectFrom('plan')
    .select(['id', 'name', 'device_quota', 'rate_limit_tier'])
    .where('id', '=', subscribed?.plan_id ?? FREE_PLAN_ID)
    .executeTakeFirstOrThrow();
  return {
    tenantId,
    planId: plan.id,
    planName: plan.name,
    deviceQuota: plan.device_quota,
    rateLimitTier: plan.rate_limit_tier,
  };
}

/** A fresh version, from the sequence every entitlement word of billing's is numbered by. */
export async function nextEntitlementVersion(db: Kysely<BillingDatabase>): Promise<number> {
  const { rows } = await sql<{ version: number }>`select nextval('entitlement_version') as version`.execute(
    db,
  );
  return Number(rows[0]!.version);
}

/**
 * The tenant's entitlement with a fresh version, read once any change of the tenant's
 * subscription under way has ended (its row is locked for share): versions then follow the
 * order of the changes, so a word read before a change never outnumbers the change's own.
 */
export async function versionedEntitlementOf(
  db: Kysely<BillingDatabase>,
  tenantId: string,
): Promise<VersionedEntitlement> {
  return db.transaction().execute(async (trx) => {
    await trx
      .selectFrom('subscription')
      .select('tenant_id')
      .where('tenant_id', '=', tenantId)
      .forShare()
      .execute();
    const version = await nextEntitlementVersion(trx);
    return { ...(await entitlementOf(trx, tenantId)), version };
  });
}
