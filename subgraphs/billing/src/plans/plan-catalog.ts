import type { Kysely, Selectable } from 'kysely';
import { actorOf, outboxTablesOf, recordEvent } from '@fleet/outbox';
import { BadUserInputError, ConflictError, NotFoundError, type Principal } from '@fleet/service-kit';
import type { BillingDatabase } from '../database/schema.js';
import { validatePlanInput, type PlanInput } from './plan-input.js';

export type PlanRow = Selectable<BillingDatabase['plan']>;

/** Every tenant is on this plan until it chooses another, and again once it cancels. */
export const FREE_PLAN_ID = 'free';

/** Whether tenants on the plan are charged at all. */
export const isPaid = (plan: Pick<PlanRow, 'price_minor' | 'device_day_price_minor'>): boolean =>
  plan.price_minor > 0 || plan.device_day_price_minor > 0;

const PLAN_ID = /^[a-z][a-z0-9-]{0,63}$/;

/**
 * The plans tenants can be on. Platform admins create and change them; a plan is never deleted,
 * only withdrawn (`available: false`), so that the tenants on it and its history stay whole.
 */
export class PlanCatalog {
  readonly #db: Kysely<BillingDatabase>;
  readonly #onEvent: () => void;

  constructor(db: Kysely<BillingDatabase>, onEvent: () => void) {
    this.#db = db;
    this.#onEvent = onEvent;
  }

  async list(): Promise<PlanRow[]> {
    return this.#db.selectFrom('plan').selectAll().orderBy('price_minor').orderBy('id').execute();
  }

  async get(id: string): Promise<PlanRow | undefined> {
    return this.#db.selectFrom('plan').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async free(): Promise<PlanRow> {
    return (await this.get(FREE_PLAN_ID))!;
  }

  async create(id: string, input: PlanInput, principal: Principal): Promise<PlanRow> {
    if (!PLAN_ID.test(id))
      throw new BadUserInputError('A plan id is 1 to 64 lower-case letters, digits and dashes', 'id');
    const values = { id, ...validatePlanInput(input) };
    if (id === FREE_PLAN_ID) throw new ConflictError('The free plan exists already', 'id');
    const plan = await this.#db.transaction().execute(async (trx) => {
      const created = await trx
        .insertInto('plan')
        .values(values)
        .onConflict((oc) => oc.column('id').doNothing())
        .returningAll()
        .executeTakeFirst();
      if (!created) throw new ConflictError(`There is a plan "${id}" already`, 'id');
      await this.#record(trx, created, 'plan.created', principal);
      return created;
    });
    this.#onEvent();
    return plan;
  }

  /**
   * Changes a plan. Tenants on it keep the prices their current segment began with until their
   * next change or month; quotas and tiers apply to them at once, so a quota may only shrink on
   * a plan nobody is on, and a currency only change there.
   */
  async update(id: string, input: PlanInput, principal: Principal): Promise<PlanRow> {
    const values = validatePlanInput(input);
    if (id === FREE_PLAN_ID) {
      if (isPaid(values)) throw new BadUserInputError('The free plan costs nothing', 'input.priceMinor');
      if (!values.available)
        throw new BadUserInputError('The free plan cannot be withdrawn', 'input.available');
    }
    const plan = await this.#db.transaction().execute(async (trx) => {
      const current = await trx
        .selectFrom('plan')
        .selectAll()
        .where('id', '=', id)
        .forUpdate()
        .executeTakeFirst();
      if (!current) throw new NotFoundError('Plan');
      // Devices holds the free quota for tenants billing has no row of: it cannot reach them all.
      if (id === FREE_PLAN_ID && values.device_quota !== current.device_quota)
        throw new BadUserInputError(
          `The free plan's device quota is fixed at ${current.device_quota}: make a plan with another`,
          'input.deviceQuota',
        );
      const subscribers = await this.#subscribersOf(trx, id);
      if (subscribers > 0 && values.device_quota < current.device_quota)
        throw new ConflictError(
          `${subscribers} tenants are on plan "${current.name}": its device quota cannot shrink below ${current.device_quota}`,
          'input.deviceQuota',
        );
      if (subscribers > 0 && values.currency !== current.currency)
        throw new ConflictError(
          `${subscribers} tenants are on plan "${current.name}": its currency cannot change`,
          'input.currency',
        );
      const updated = await trx
        .updateTable('plan')
        .set(values)
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirstOrThrow();
      if (
        updated.device_quota !== current.device_quota ||
        updated.rate_limit_tier !== current.rate_limit_tier
      ) {
        // Devices and the gateway learn the new entitlements of the plan's tenants.
        await trx
          .updateTable('subscription')
          .set({ entitlement_dirty: true, updated_at: new Date() })
          .where('plan_id', '=', id)
          .execute();
      }
      await this.#record(trx, updated, 'plan.updated', principal);
      return updated;
    });
    this.#onEvent();
    return plan;
  }

  /** Tenants on the plan; the free plan counts only tenants that came back to it. */
  async #subscribersOf(trx: Kysely<BillingDatabase>, planId: string): Promise<number> {
    const row = await trx
      .selectFrom('subscription')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('plan_id', '=', planId)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async #record(
    trx: Kysely<BillingDatabase>,
    plan: PlanRow,
    type: string,
    principal: Principal,
  ): Promise<void> {
    await recordEvent(outboxTablesOf(trx), {
      aggregateType: 'plan',
      aggregateId: plan.id,
      type,
      tenantId: null,
      actor: actorOf(principal),
      payload: { ...planState(plan) },
    });
  }
}

/** A plan as its events record it. */
export function planState(plan: PlanRow) {
  return {
    planId: plan.id,
    name: plan.name,
    deviceQuota: plan.device_quota,
    rateLimitTier: plan.rate_limit_tier,
    priceMinor: plan.price_minor,
    deviceDayPriceMinor: plan.device_day_price_minor,
    currency: plan.currency,
    trialDays: plan.trial_days,
    available: plan.available,
  };
}
