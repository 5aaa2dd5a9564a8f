import type { Kysely } from 'kysely';
import { actorOf, lastSequenceOf, outboxTablesOf, type RestoreHandler } from '@fleet/outbox';
import {
  BadUserInputError,
  ConflictError,
  ForbiddenError,
  hasScopeIn,
  NotFoundError,
} from '@fleet/service-kit';
import type { BillingDatabase } from '../database/schema.js';
import type { PlanCatalog } from '../plans/plan-catalog.js';
import { subscriptionState, type Subscriptions } from './subscriptions.js';

const MAX_PLAN_ID_LENGTH = 64;

/**
 * Audit's restore of a tenant's subscription (see the restore contract in the outbox package):
 * the aggregate is the tenant (its id), its state `{ tenantId, planId, … }` as every
 * subscription event records it. Puts the tenant back on `state.planId`, which must still exist, as a new
 * change recorded as `subscription.restored`, like a change of plan. The principal needs
 * `billing:write` in the tenant, as for changeTenantPlan.
 */
export function subscriptionRestore(
  plans: PlanCatalog,
  subscriptions: Subscriptions,
  db: Kysely<BillingDatabase>,
): RestoreHandler {
  return async (restore, request) => {
    const { principal } = request;
    const tenantId = restore.aggregateId.toLowerCase();
    if (!hasScopeIn(principal, 'billing:write', tenantId))
      throw new ForbiddenError("Restoring a tenant's subscription needs billing:write in that tenant");
    const last = await lastSequenceOf(outboxTablesOf(db), 'subscription', tenantId);
    if (last === 0) throw new NotFoundError('Subscription');
    if (restore.sequence > last)
      throw new BadUserInputError(
        `sequence ${restore.sequence} is beyond this subscription's history (its last change is ${last})`,
        'sequence',
      );
    const { tenantId: stateTenantId, planId } = restore.state;
    if (typeof stateTenantId !== 'string' || stateTenantId.toLowerCase() !== tenantId)
      throw new BadUserInputError('The state to restore is of another tenant', 'state.tenantId');
    if (typeof planId !== 'string' || planId === '' || planId.length > MAX_PLAN_ID_LENGTH)
      throw new BadUserInputError(
        `The state to restore is invalid: planId must be a plan id of 1 to ${MAX_PLAN_ID_LENGTH} characters`,
        'state.planId',
      );
    const plan = await plans.get(planId);
    if (!plan)
      throw new BadUserInputError(
        `The state to restore names the plan "${planId}", which no longer exists`,
        'state.planId',
      );
    const { view, eventId } = await subscriptions.changePlan(
      tenantId,
      plan.id,
      actorOf(principal),
      'caller',
      'subscription.restored',
    );
    if (!eventId) throw new ConflictError(`The tenant is on plan "${plan.name}" already`, 'state.planId');
    return { eventId, state: subscriptionState(view) };
  };
}
