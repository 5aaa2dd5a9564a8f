import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMember, bearer, signIn } from '../support/identities.js';
import {
  createTenant,
  engineMatrix,
  eventually,
  startTestFederation,
  type GraphQLResult,
  type TestFederation,
} from '../support/test-federation.js';

const SUBSCRIPTION = `query($id: ID!) {
  tenant(id: $id) { id subscription { status plan { id deviceQuota rateLimitTier } trialEndsAt provider } }
}`;
const CHANGE = 'mutation($t: ID!, $p: ID!) { changeTenantPlan(tenantId: $t, planId: $p) { id plan { id } } }';
const CANCEL =
  'mutation($t: ID!) { cancelSubscription(tenantId: $t) { id subscription { status plan { id } } } }';
const CREATE_PLAN = 'mutation($id: ID!, $input: PlanInput!) { createPlan(id: $id, input: $input) { id } }';
const HISTORY = `query($id: ID!) {
  entityHistory(entityType: "subscription", entityId: $id, first: 50) { edges { node { type payload } } }
}`;

interface Subscription {
  status: string;
  plan: { id: string; deviceQuota: number; rateLimitTier: string };
  trialEndsAt: string | null;
  provider: string;
}

/**
 * Billing through the gateway, on both engines: a tenant's subscription and its lifecycle, who
 * may see and change it, plans managed by platform administrators, and every change on its way
 * to audit.
 */
describe.each(await engineMatrix())('billing on $engine', ({ engine, enabled }) => {
  let fleet: TestFederation;
  let tenantId: string;
  let owner: Record<string, string>;
  let admin: Record<string, string>;
  let billingPerson: Record<string, string>;
  let operator: Record<string, string>;
  let auditor: Record<string, string>;

  const as = <T>(headers: Record<string, string>, query: string, variables: Record<string, unknown> = {}) =>
    fleet.graphql<T>(query, variables, headers);
  const expectCode = (result: GraphQLResult<unknown>, code: string) =>
    expect(result.errors?.[0]?.extensions?.code, JSON.stringify(result.errors)).toBe(code);
  const subscriptionOf = async (id: string): Promise<Subscription> => {
    const read = await as<{ tenant: { subscription: Subscription } }>(owner, SUBSCRIPTION, { id });
    if (!read.data) throw new Error(JSON.stringify(read.errors));
    return read.data.tenant.subscription;
  };

  beforeAll(async () => {
    if (!enabled) return;
    fleet = await startTestFederation({ engine });
    tenantId = await createTenant(fleet, 'Billed Networks', 'billed-networks');
    const tenant = { id: tenantId, slug: 'billed-networks' };
    const person = async (email: string, roles: string[]) =>
      bearer(
        (await signIn(fleet, await addMember(fleet, tenant, { email, fullName: email, roles }))).accessToken,
      );
    owner = await person('owner@billed.example', ['owner']);
    admin = await person('admin@billed.example', ['admin']);
    billingPerson = await person('billing@billed.example', ['billing']);
    operator = await person('operator@billed.example', ['operator']);
    auditor = await person('auditor@billed.example', ['auditor']);
  });

  afterAll(async () => {
    await fleet?.destroy();
  });

  it.runIf(enabled)(
    "walks a tenant's subscription from the free plan through a trial to canceled",
    async () => {
      expect(await subscriptionOf(tenantId)).toEqual({
        status: 'ACTIVE',
        plan: { id: 'free', deviceQuota: 5, rateLimitTier: 'free' },
        trialEndsAt: null,
        provider: 'manual',
      });
      const changed = await as(billingPerson, CHANGE, { t: tenantId, p: 'pro' });
      expect(changed.errors).toBeUndefined();
      const trialing = await subscriptionOf(tenantId);
      expect(trialing).toMatchObject({ status: 'TRIALING', plan: { id: 'pro', deviceQuota: 100 } });
      expect(Date.parse(trialing.trialEndsAt!)).toBeGreaterThan(Date.now() + 13 * 86_400_000);

      expect((await as(owner, CHANGE, { t: tenantId, p: 'enterprise' })).errors).toBeUndefined();
      expect(await subscriptionOf(tenantId)).toMatchObject({
        status: 'TRIALING',
        trialEndsAt: trialing.trialEndsAt,
      });

      const canceled = await as<{ cancelSubscription: { subscription: Subscription } }>(owner, CANCEL, {
        t: tenantId,
      });
      expect(canceled.data?.cancelSubscription.subscription).toEqual({
        status: 'CANCELED',
        plan: { id: 'free' },
      });

      // Every change reaches audit with the subscription's state after it.
      const history = await eventually(async () => {
        const read = await as<{
          entityHistory: { edges: { node: { type: string; payload: { status: string; planId: string } } }[] };
        }>(owner, HISTORY, { id: tenantId });
        const events = read.data?.entityHistory.edges.map((edge) => edge.node) ?? [];
        return events.length >= 3 ? events : undefined;
      });
      expect(history.map((event) => [event.type, event.payload.planId, event.payload.status])).toEqual([
        ['subscription.plan_changed', 'pro', 'trialing'],
        ['subscription.plan_changed', 'enterprise', 'trialing'],
        ['subscription.canceled', 'free', 'canceled'],
      ]);
    },
  );

  it.runIf(enabled)(
    'lets owners and billing people change the plan, and nobody else in the tenant',
    async () => {
      for (const headers of [admin, operator, auditor]) {
        expectCode(await as(headers, CHANGE, { t: tenantId, p: 'pro' }), 'FORBIDDEN');
        expectCode(await as(headers, CANCEL, { t: tenantId }), 'FORBIDDEN');
      }
      expect((await subscriptionOf(tenantId)).plan.id).toBe('free');
      // An admin may read the plan, not change it.
      const read = await as<{ tenant: { subscription: Subscription } }>(admin, SUBSCRIPTION, {
        id: tenantId,
      });
      expect(read.data?.tenant.subscription.plan.id).toBe('free');
    },
  );

  it.runIf(enabled)('leaves plans to platform administrators, and refuses bad ones', async () => {
    const input = {
      name: 'Team',
      deviceQuota: 25,
      rateLimitTier: 'standard',
      priceMinor: 1900,
      deviceDayPriceMinor: 4,
      currency: 'EUR',
      trialDays: 0,
    };
    expectCode(await as(owner, CREATE_PLAN, { id: 'team', input }), 'FORBIDDEN');
    const negative = await fleet.asAdmin(CREATE_PLAN, { id: 'team', input: { ...input, priceMinor: -100 } });
    expect(negative.errors?.[0]).toMatchObject({
      message: 'A price cannot be negative',
      extensions: { code: 'BAD_USER_INPUT' },
    });
    expect((await fleet.asAdmin(CREATE_PLAN, { id: 'team', input })).errors).toBeUndefined();
    const plans = await as<{ plans: { id: string }[] }>(operator, '{ plans { id } }');
    expect(plans.data?.plans.map((plan) => plan.id)).toContain('team');
    const unknown = await as(owner, CHANGE, { t: tenantId, p: 'platinum' });
    expect(unknown.errors?.[0]).toMatchObject({
      message: 'There is no plan "platinum"',
      extensions: { code: 'BAD_USER_INPUT' },
    });
  });
});
