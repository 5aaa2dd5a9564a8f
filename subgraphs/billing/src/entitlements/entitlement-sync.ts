import { sql, type Kysely } from 'kysely';
import {
  ConflictError,
  intervalTask,
  ServiceUnavailableError,
  type BackgroundWorker,
  type Logger,
} from '@fleet/service-kit';
import type { BillingDatabase } from '../database/schema.js';
import type { EntitlementGuard } from '../subscriptions/subscriptions.js';
import { pushEntitlement, type DevicesEndpoint } from './devices-push.js';
import { nextEntitlementVersion, versionedEntitlementOf } from './entitlement-of.js';

export interface EntitlementSyncOptions {
  db: Kysely<BillingDatabase>;
  devices: DevicesEndpoint;
  /** How often dirty entitlements are pushed when nothing calls notify (and failed pushes retried). */
  intervalMs: number;
  logger: Logger;
}

/** Dirty subscriptions one pass reads at a time. */
const BATCH = 200;

/**
 * Keeps devices holding each tenant's plan quota.
 *
 * - `enforce`, inside the transaction of a change that lowers a tenant's quota, before it
 *   commits: pushes the new quota with a fresh version, and devices refuses it (nothing changes
 *   there, and the change is refused here) when the tenant has more devices. The quota is then
 *   held on devices' side under the same lock as device creation, so no device slips in between.
 * - Every other change marks the subscription `entitlement_dirty`; `notify` (after its commit)
 *   and the interval push each dirty one, and clear the flag only if the row did not change
 *   since it was read (its `updated_at`).
 *
 * A change whose transaction rolls back after `enforce` has left devices holding a quota the
 * tenant does not have: such tenants are pushed again, from what billing holds, at the next pass.
 */
export class EntitlementSync implements EntitlementGuard, BackgroundWorker {
  readonly #options: EntitlementSyncOptions;
  readonly #worker: BackgroundWorker;
  /** Tenants `enforce` pushed to: their transaction may have rolled back. */
  readonly #enforced = new Set<string>();
  #pass: Promise<void> | undefined;
  #again = false;
  #failing = false;
  #stopped = false;

  constructor(options: EntitlementSyncOptions) {
    this.#options = options;
    this.#worker = intervalTask({
      name: 'push entitlements to devices',
      everyMs: options.intervalMs,
      logger: options.logger,
      run: () => this.sync(),
    });
  }

  start(): void {
    this.#stopped = false;
    this.#worker.start();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#worker.stop();
    await this.#pass;
  }

  async enforce(
    tenantId: string,
    change: { deviceQuota: number; planName: string },
    trx: Kysely<BillingDatabase>,
  ): Promise<void> {
    const version = await nextEntitlementVersion(trx);
    this.#enforced.add(tenantId);
    let answer;
    try {
      answer = await pushEntitlement(this.#options.devices, {
        tenantId,
        deviceQuota: change.deviceQuota,
        version,
        enforce: true,
      });
    } catch (error) {
      this.#options.logger.warn(
        { tenantId, reason: error instanceof Error ? error.message : String(error) },
        "cannot make devices hold a lower device quota; refusing the tenant's plan change",
      );
      throw new ServiceUnavailableError(
        `The tenant's devices cannot be checked against plan "${change.planName}" right now, so its plan was not changed; try again shortly`,
      );
    }
    // A word of billing's newer than this one may have reached devices first: the count decides.
    if (answer.outcome === 'refused' || answer.deviceCount > change.deviceQuota) {
      const excess = answer.deviceCount - change.deviceQuota;
      throw new ConflictError(
        `The tenant has ${answer.deviceCount} devices; plan "${change.planName}" allows ${change.deviceQuota}. ` +
          `Remove ${excess} ${excess === 1 ? 'device' : 'devices'} before moving to it.`,
      );
    }
  }

  notify(): void {
    void this.sync();
  }

  /**
   * Pushes the entitlement of every dirty subscription (and of every tenant `enforce` pushed to)
   * now. A pass already under way runs once more after it, so nothing marked meanwhile waits for
   * the interval. Never rejects: failures are logged, and the next pass tries again.
   */
  sync(): Promise<void> {
    if (this.#pass) {
      this.#again = true;
      return this.#pass;
    }
    this.#pass = (async () => {
      do {
        this.#again = false;
        await this.#run();
      } while (this.#again && !this.#stopped);
    })().finally(() => {
      this.#pass = undefined;
    });
    return this.#pass;
  }

  async #run(): Promise<void> {
    const { db, logger } = this.#options;
    try {
      for (const tenantId of [...this.#enforced]) {
        if (this.#stopped) return;
        await this.#push(tenantId);
        this.#enforced.delete(tenantId);
      }
      for (;;) {
        const dirty = await db
          .selectFrom('subscription')
          // As text: PostgreSQL keeps microseconds, which a Date would lose.
          .select(['tenant_id', sql<string>`updated_at::text`.as('updated_at')])
          .where('entitlement_dirty', '=', true)
          .orderBy('subscription.updated_at')
          .limit(BATCH)
          .execute();
        let cleared = 0;
        for (const row of dirty) {
          if (this.#stopped) return;
          await this.#push(row.tenant_id);
          const done = await db
            .updateTable('subscription')
            .set({ entitlement_dirty: false })
            .where('tenant_id', '=', row.tenant_id)
            .where('updated_at', '=', sql<Date>`${row.updated_at}::timestamptz`)
            .executeTakeFirst();
          cleared += Number(done.numUpdatedRows);
        }
        // Rows that changed while being pushed stay dirty: the next pass takes them.
        if (dirty.length < BATCH || cleared === 0) break;
      }
      if (this.#failing) {
        this.#failing = false;
        logger.info('devices reachable again: entitlements pushed');
      }
    } catch (error) {
      const level = this.#failing ? 'debug' : 'warn';
      this.#failing = true;
      logger[level](
        { reason: error instanceof Error ? error.message : String(error) },
        'could not push entitlements to devices; will try again',
      );
    }
  }

  async #push(tenantId: string): Promise<void> {
    const entitlement = await versionedEntitlementOf(this.#options.db, tenantId);
    await pushEntitlement(this.#options.devices, {
      tenantId,
      deviceQuota: entitlement.deviceQuota,
      version: entitlement.version,
      enforce: false,
    });
  }
}
