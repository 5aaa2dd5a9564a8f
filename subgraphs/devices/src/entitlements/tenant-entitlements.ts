import type { Kysely, Transaction } from 'kysely';
import { ConflictError, ServiceUnavailableError, type Logger } from '@fleet/service-kit';
import type { DevicesDatabase } from '../database/schema.js';
import type { EntitlementLookup, PlanEntitlement } from './billing-lookup.js';

/** How many devices a tenant may have, and where that number comes from. */
export interface TenantQuota {
  devices: number;
  /** `plan`: billing's word on the tenant's plan; `default`: DEVICES_MAX_DEVICES_PER_TENANT. */
  source: 'plan' | 'default';
}

/** What a pushed entitlement did. */
export type ApplyOutcome =
  | { outcome: 'applied' | 'stale'; deviceCount: number; deviceQuota: number | null; version: number }
  /** Refused under `enforce`: the tenant has more devices than the quota. Nothing changed. */
  | { outcome: 'refused'; deviceCount: number; deviceQuota: number };

export interface TenantEntitlementsOptions {
  /**
   * Asks billing for a tenant's entitlement when devices knows none; undefined when devices runs
   * without billing, and every tenant billing never told of has `defaultQuota`.
   */
  lookup?: EntitlementLookup;
  defaultQuota: number;
  logger?: Logger;
}

interface TenantRow {
  device_count: number;
  device_quota: number | null;
  entitlement_version: number;
}

/**
 * Each tenant's device quota, as billing tells it: pushed by billing when a plan changes (the
 * entitlement route), or asked of billing the first time a tenant creates a device. It lives on
 * the tenant's `tenant_devices` row, the row every device creation locks, so a quota that arrives
 * and a creation that counts against it happen one after the other. Each word of billing's
 * carries a version; an older one arriving after a newer one is ignored.
 */
export class TenantEntitlements {
  readonly #db: Kysely<DevicesDatabase>;
  readonly #options: TenantEntitlementsOptions;
  /** Lookups under way, by tenant: concurrent creations of a new tenant ask billing once. */
  readonly #asking = new Map<string, Promise<void>>();

  constructor(db: Kysely<DevicesDatabase>, options: TenantEntitlementsOptions) {
    this.#db = db;
    this.#options = options;
  }

  /**
   * Stores billing's word on a tenant's plan, under the tenant row's lock (the row is made when
   * missing). A version not newer than the stored one changes nothing (`stale`). With `enforce`
   * (a downgrade about to commit in billing), a quota below the tenant's device count is refused
   * and changes nothing either.
   */
  async apply(tenantId: string, entitlement: PlanEntitlement, enforce: boolean): Promise<ApplyOutcome> {
    return this.#db.transaction().execute(async (trx) => {
      const row = await lockRow(trx, tenantId);
      if (entitlement.version <= row.entitlement_version)
        return {
          outcome: 'stale',
          deviceCount: row.device_count,
          deviceQuota: row.device_quota,
          version: row.entitlement_version,
        };
      if (enforce && row.device_count > entitlement.deviceQuota)
        return { outcome: 'refused', deviceCount: row.device_count, deviceQuota: entitlement.deviceQuota };
      await trx
        .updateTable('tenant_devices')
        .set({ device_quota: entitlement.deviceQuota, entitlement_version: entitlement.version })
        .where('tenant_id', '=', tenantId)
        .execute();
      return {
        outcome: 'applied',
        deviceCount: row.device_count,
        deviceQuota: entitlement.deviceQuota,
        version: entitlement.version,
      };
    });
  }

  /**
   * The tenant's device count and quota as they stand, without a lock: for refusing early. When
   * devices knows no quota and billing is configured, billing is asked first (see `learn`).
   */
  async current(tenantId: string): Promise<{ deviceCount: number; quota: TenantQuota }> {
    await this.learn(tenantId);
    const row = await this.#db
      .selectFrom('tenant_devices')
      .select(['device_count', 'device_quota'])
      .where('tenant_id', '=', tenantId)
      .executeTakeFirst();
    return { deviceCount: row?.device_count ?? 0, quota: this.#quotaOf(row?.device_quota ?? null) };
  }

  /**
   * The tenant's device count and quota inside a creating transaction, with the tenant's row
   * locked until it ends. Never asks billing (a lock is held): `learn` runs before the
   * transaction.
   */
  async locked(
    trx: Transaction<DevicesDatabase>,
    tenantId: string,
  ): Promise<{ deviceCount: number; quota: TenantQuota }> {
    const row = await lockRow(trx, tenantId);
    return { deviceCount: row.device_count, quota: this.#quotaOf(row.device_quota) };
  }

  /**
   * Makes sure devices knows the tenant's quota: when none is stored and billing is configured,
   * asks billing and stores its answer as a pushed one would be. When billing cannot answer,
   * refuses (fail closed): a creation is never let through on a guess.
   */
  async learn(tenantId: string): Promise<void> {
    const { lookup } = this.#options;
    if (!lookup) return;
    const row = await this.#db
      .selectFrom('tenant_devices')
      .select('device_quota')
      .where('tenant_id', '=', tenantId)
      .executeTakeFirst();
    if (row?.device_quota != null) return;
    let asking = this.#asking.get(tenantId);
    if (!asking) {
      asking = (async () => {
        let entitlement: PlanEntitlement;
        try {
          entitlement = await lookup(tenantId);
        } catch (error) {
          this.#options.logger?.warn(
            { tenantId, reason: error instanceof Error ? error.message : String(error) },
            "cannot learn a tenant's device quota from billing; refusing its device creations",
          );
          throw new ServiceUnavailableError(
            "The tenant's device quota cannot be checked with billing right now, so nothing was created; try again shortly",
          );
        }
        await this.apply(tenantId, entitlement, false);
      })().finally(() => this.#asking.delete(tenantId));
      this.#asking.set(tenantId, asking);
    }
    await asking;
  }

  /** The refusal of a device beyond the quota, saying the quota and the count. */
  quotaError(quota: TenantQuota, deviceCount: number): ConflictError {
    const message =
      quota.source === 'plan'
        ? `The tenant's plan allows ${quota.devices} devices and it has ${deviceCount}; remove a device or choose a larger plan`
        : `The tenant has reached its quota of ${quota.devices} devices`;
    return new ConflictError(message, 'tenantId');
  }

  #quotaOf(stored: number | null): TenantQuota {
    if (stored !== null) return { devices: stored, source: 'plan' };
    // With billing configured, `learn` stored a quota before anyone counts; should it be missing
    // all the same, nothing is created on a guess.
    if (this.#options.lookup)
      throw new ServiceUnavailableError(
        "The tenant's device quota is not known yet, so nothing was created; try again shortly",
      );
    return { devices: this.#options.defaultQuota, source: 'default' };
  }
}

/** The tenant's row, made when missing, locked until the transaction ends. */
async function lockRow(trx: Transaction<DevicesDatabase>, tenantId: string): Promise<TenantRow> {
  await trx
    .insertInto('tenant_devices')
    .values({ tenant_id: tenantId, device_count: 0 })
    .onConflict((oc) => oc.column('tenant_id').doNothing())
    .execute();
  return trx
    .selectFrom('tenant_devices')
    .select(['device_count', 'device_quota', 'entitlement_version'])
    .where('tenant_id', '=', tenantId)
    .forUpdate()
    .executeTakeFirstOrThrow();
}
