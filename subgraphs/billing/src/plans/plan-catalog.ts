import type { Kysely, Selectable } from 'kysely';
import { actorOf, outboxTablesOf, recordEvent, type EventActor } from '@fleet/outbox';
import { BadUserInputError, type Principal } from '@fleet/service-kit';
import type { BillingDatabase } from '../database/schema.js';

export type PlanRow = Selectable<BillingDatabase['plan']>;

/** Every tenant is on this plan until it chooses another. */
export const DEFAULT_PLAN_ID = 'free';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class PlanCatalog {
  readonly #db: Kysely<BillingDatabase>;
  readonly #onEvent: () => void;

  constructor(db: Kysely<BillingDatabase>, onEvent: () => void) {
    this.#db = db;
    this.#onEvent = onEvent;
  }

  async list(): Promise<PlanRow[]> {
    return this.#db.selectFrom('plan').selectAll().orderBy('price_minor').execute();
  }

  async get(id: string): Promise<PlanRow | undefined> {
    return this.#db.selectFrom('plan').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async planOfTenant(tenantId: string): Promise<PlanRow> {
    const chosen = UUID.test(tenantId)
      ? await this.#db
          .selectFrom('tenant_plan')
          .innerJoin('plan', 'plan.id', 'tenant_plan.plan_id')
          .selectAll('plan')
          .where('tenant_plan.tenant_id', '=', tenantId.toLowerCase())
          .executeTakeFirst()
      : undefined;
    return chosen ?? (await this.get(DEFAULT_PLAN_ID))!;
  }

  async changePlan(tenantId: string, planId: string, principal: Principal): Promise<PlanRow> {
    if (!UUID.test(tenantId)) throw new BadUserInputError('tenantId must be a UUID', 'tenantId');
    const plan = await this.get(planId);
    if (!plan) throw new BadUserInputError(`There is no plan "${planId}"`, 'planId');
    await this.setPlan(tenantId.toLowerCase(), plan, 'subscription.plan_changed', actorOf(principal));
    return plan;
  }

  /**
   * Puts a tenant (its id in lower case) on a plan and records the change as `type`, in one
   * transaction; answers the event's id.
   */
  async setPlan(tenantId: string, plan: PlanRow, type: string, actor: EventActor): Promise<string> {
    const eventId = await this.#db.transaction().execute(async (trx) => {
      await trx
        .insertInto('tenant_plan')
        .values({ tenant_id: tenantId, plan_id: plan.id })
        .onConflict((oc) => oc.column('tenant_id').doUpdateSet({ plan_id: plan.id, changed_at: new Date() }))
        .execute();
      return recordEvent(outboxTablesOf(trx), {
        aggregateType: 'subscription',
        aggregateId: tenantId,
        type,
        tenantId,
        actor,
        payload: { tenantId, planId: plan.id },
      });
    });
    this.#onEvent();
    return eventId;
  }
}
