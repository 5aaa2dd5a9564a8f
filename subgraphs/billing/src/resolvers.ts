import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper/index.js';
import type { SignedRequest } from '@fleet/service-kit';
import type { PlanCatalog, PlanRow } from './plans/plan-catalog.js';

export interface BillingContext {
  plans: PlanCatalog;
  request: SignedRequest;
}

const planOut = (p: PlanRow) => ({
  id: p.id,
  name: p.name,
  deviceQuota: p.device_quota,
  priceMinor: p.price_minor,
  currency: p.currency,
});

export const resolvers: GraphQLResolverMap<BillingContext> = {
  Query: {
    plans: async (_: unknown, __: unknown, { plans }: BillingContext) => (await plans.list()).map(planOut),
    plan: async (_: unknown, args: { id: string }, { plans }: BillingContext) => {
      const plan = await plans.get(args.id);
      return plan ? planOut(plan) : null;
    },
  },
  Mutation: {
    changeTenantPlan: async (_: unknown, args: { tenantId: string; planId: string }, ctx: BillingContext) => {
      await ctx.plans.changePlan(args.tenantId, args.planId, ctx.request.principal);
      return { id: args.tenantId.toLowerCase() };
    },
  },
  Tenant: {
    __resolveReference: (reference: { id: string }) => ({ id: reference.id }),
    plan: async (tenant: { id: string }, _: unknown, { plans }: BillingContext) =>
      planOut(await plans.planOfTenant(tenant.id)),
  },
};
