import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper/index.js';
import { actorOf } from '@fleet/outbox';
import type { SignedRequest } from '@fleet/service-kit';
import { invoiceResolvers, type InvoiceContext } from './invoices/invoice-resolvers.js';
import type { PlanCatalog, PlanRow } from './plans/plan-catalog.js';
import type { PlanInput } from './plans/plan-input.js';
import { monthBounds } from './subscriptions/billing-month.js';
import { tenantIdOf, type Subscriptions, type SubscriptionView } from './subscriptions/subscriptions.js';

export interface BillingContext extends InvoiceContext {
  plans: PlanCatalog;
  subscriptions: Subscriptions;
  request: SignedRequest;
}

export const planOut = (p: PlanRow) => ({
  id: p.id,
  name: p.name,
  deviceQuota: p.device_quota,
  rateLimitTier: p.rate_limit_tier,
  priceMinor: p.price_minor,
  deviceDayPriceMinor: p.device_day_price_minor,
  currency: p.currency,
  trialDays: p.trial_days,
  available: p.available,
});

const subscriptionOut = (s: SubscriptionView, now = new Date()) => {
  const { start, end } = monthBounds(now);
  return {
    plan: planOut(s.plan),
    status: s.status.toUpperCase(),
    trialEndsAt: s.trialEndsAt?.toISOString() ?? null,
    currentPeriodStart: start.toISOString(),
    currentPeriodEnd: end.toISOString(),
    pastDueSince: s.pastDueSince?.toISOString() ?? null,
    canceledAt: s.canceledAt?.toISOString() ?? null,
    provider: s.provider,
  };
};

type TenantArgs = { tenantId: string };
type PlanArgs = { tenantId: string; planId: string };

export const resolvers: GraphQLResolverMap<BillingContext> = {
  Query: {
    plans: async (_: unknown, __: unknown, { plans }: BillingContext) => (await plans.list()).map(planOut),
    plan: async (_: unknown, args: { id: string }, { plans }: BillingContext) => {
      const plan = await plans.get(args.id);
      return plan ? planOut(plan) : null;
    },
    ...invoiceResolvers.Query,
  },
  Mutation: {
    changeTenantPlan: async (_: unknown, args: PlanArgs, ctx: BillingContext) => {
      const tenantId = tenantIdOf(args.tenantId);
      await ctx.subscriptions.changePlan(tenantId, args.planId, actorOf(ctx.request.principal), 'caller');
      return { id: tenantId };
    },
    cancelSubscription: async (_: unknown, args: TenantArgs, ctx: BillingContext) => {
      const tenantId = tenantIdOf(args.tenantId);
      await ctx.subscriptions.cancel(tenantId, actorOf(ctx.request.principal), 'caller');
      return { id: tenantId };
    },
    startCheckout: async (_: unknown, args: PlanArgs, ctx: BillingContext) =>
      ctx.subscriptions.startCheckout(tenantIdOf(args.tenantId), args.planId),
    createPlan: async (_: unknown, args: { id: string; input: PlanInput }, ctx: BillingContext) =>
      planOut(await ctx.plans.create(args.id, args.input, ctx.request.principal)),
    updatePlan: async (_: unknown, args: { id: string; input: PlanInput }, ctx: BillingContext) =>
      planOut(await ctx.plans.update(args.id, args.input, ctx.request.principal)),
    ...invoiceResolvers.Mutation,
  },
  Tenant: {
    __resolveReference: (reference: { id: string }) => ({ id: reference.id }),
    plan: async (tenant: { id: string }, _: unknown, { subscriptions }: BillingContext) =>
      planOut((await subscriptions.get(tenantIdOf(tenant.id))).plan),
    subscription: async (tenant: { id: string }, _: unknown, { subscriptions }: BillingContext) =>
      subscriptionOut(await subscriptions.get(tenantIdOf(tenant.id))),
    ...invoiceResolvers.Tenant,
  },
};
