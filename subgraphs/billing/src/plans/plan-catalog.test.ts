import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine, Principal } from '@fleet/service-kit';
import { startBillingUnderTest, type BillingUnderTest } from '../../../../test/support/billing-service.js';
import { postgresSuiteEnabled } from '../../../../test/support/postgres.js';
import { eventually } from '../../../../test/support/test-federation.js';

/**
 * Plans and plan changes over billing's HTTP GraphQL, as the gateway calls it: bad input is
 * refused with a message naming the field, and changes nothing.
 */

const engines: { engine: Engine; enabled: boolean }[] = [
  { engine: 'pglite', enabled: true },
  { engine: 'postgres', enabled: await postgresSuiteEnabled() },
];

function user(tenantId: string, scopes: string[]): Principal {
  return { kind: 'user', userId: randomUUID(), tenantId, roles: [], scopes, sessionId: randomUUID() };
}

const platformAdmin = user(randomUUID(), ['platform:admin']);

const TEAM = {
  name: 'Team',
  deviceQuota: 25,
  rateLimitTier: 'standard',
  priceMinor: 1900,
  deviceDayPriceMinor: 4,
  currency: 'EUR',
  trialDays: 7,
  available: true,
};

const CREATE = 'mutation($id: ID!, $input: PlanInput!) { createPlan(id: $id, input: $input) { id } }';
const UPDATE = 'mutation($id: ID!, $input: PlanInput!) { updatePlan(id: $id, input: $input) { id } }';
const CHANGE = 'mutation($t: ID!, $p: ID!) { changeTenantPlan(tenantId: $t, planId: $p) { id } }';
const PLANS =
  '{ plans { id name deviceQuota rateLimitTier priceMinor deviceDayPriceMinor currency trialDays available } }';
const SUBSCRIPTION =
  'query($t: ID!) { _entities(representations: [{ __typename: "Tenant", id: $t }]) { ... on Tenant { subscription { status plan { id } trialEndsAt currentPeriodStart currentPeriodEnd } } } }';

describe.each(engines)('plans on $engine', ({ engine, enabled }) => {
  describe.skipIf(!enabled)('over HTTP', () => {
    let billing: BillingUnderTest;

    beforeAll(async () => {
      billing = await startBillingUnderTest(engine);
    });

    afterAll(() => billing?.stop());

    type Plans = { plans: { id: string; priceMinor: number }[] };
    const plans = async () => (await billing.graphql<Plans>(platformAdmin, PLANS)).data!.plans;

    async function refused(
      query: string,
      variables: Record<string, unknown>,
      message: string,
      field: string,
    ) {
      const answer = await billing.graphql(platformAdmin, query, variables);
      expect(answer.errors, JSON.stringify(answer)).toHaveLength(1);
      expect(answer.errors![0]).toMatchObject({ message, extensions: { code: 'BAD_USER_INPUT', field } });
    }

    it('lists the plans with their quotas, tiers and prices', async () => {
      expect((await plans()).slice(0, 3)).toEqual([
        {
          id: 'free',
          name: 'Free',
          deviceQuota: 5,
          rateLimitTier: 'free',
          priceMinor: 0,
          deviceDayPriceMinor: 0,
          currency: 'EUR',
          trialDays: 0,
          available: true,
        },
        {
          id: 'pro',
          name: 'Pro',
          deviceQuota: 100,
          rateLimitTier: 'standard',
          priceMinor: 4900,
          deviceDayPriceMinor: 5,
          currency: 'EUR',
          trialDays: 14,
          available: true,
        },
        {
          id: 'enterprise',
          name: 'Enterprise',
          deviceQuota: 10000,
          rateLimitTier: 'enterprise',
          priceMinor: 99900,
          deviceDayPriceMinor: 3,
          currency: 'EUR',
          trialDays: 30,
          available: true,
        },
      ]);
    });

    it('refuses negative amounts, bad currencies and bad ids, and makes no plan', async () => {
      const before = await plans();
      await refused(
        CREATE,
        { id: 'team', input: { ...TEAM, priceMinor: -1 } },
        'A price cannot be negative',
        'input.priceMinor',
      );
      await refused(
        CREATE,
        { id: 'team', input: { ...TEAM, deviceDayPriceMinor: -5 } },
        'A device-day price cannot be negative',
        'input.deviceDayPriceMinor',
      );
      await refused(
        CREATE,
        { id: 'team', input: { ...TEAM, deviceQuota: -3 } },
        'A device quota cannot be negative',
        'input.deviceQuota',
      );
      await refused(
        CREATE,
        { id: 'team', input: { ...TEAM, trialDays: 400 } },
        'A trial is a whole number from 0 to 365 days',
        'input.trialDays',
      );
      await refused(
        CREATE,
        { id: 'team', input: { ...TEAM, currency: 'EURO' } },
        '"EURO" is not an ISO 4217 currency code',
        'input.currency',
      );
      await refused(
        CREATE,
        { id: 'team', input: { ...TEAM, rateLimitTier: 'Gold Tier' } },
        'A rate-limit tier is the name of one of the gateway tiers (lower-case letters, digits, dashes)',
        'input.rateLimitTier',
      );
      await refused(
        CREATE,
        { id: 'Team!', input: TEAM },
        'A plan id is 1 to 64 lower-case letters, digits and dashes',
        'id',
      );
      await refused(
        UPDATE,
        { id: 'pro', input: { ...TEAM, priceMinor: -100 } },
        'A price cannot be negative',
        'input.priceMinor',
      );
      await refused(
        UPDATE,
        { id: 'free', input: { ...TEAM, priceMinor: 100 } },
        'The free plan costs nothing',
        'input.priceMinor',
      );
      await refused(
        UPDATE,
        {
          id: 'free',
          input: { ...TEAM, name: 'Free', deviceQuota: 50, priceMinor: 0, deviceDayPriceMinor: 0 },
        },
        "The free plan's device quota is fixed at 5: make a plan with another",
        'input.deviceQuota',
      );
      expect(await plans()).toEqual(before);
      const events = billing.ingest.events.filter((event) => event.aggregateType === 'plan');
      expect(events).toEqual([]);
    });

    it('refuses an unknown or withdrawn plan for a tenant, and changes nothing', async () => {
      const tenantId = randomUUID();
      const owner = user(tenantId, ['billing:read', 'billing:write']);
      await refused(CHANGE, { t: tenantId, p: 'platinum' }, 'There is no plan "platinum"', 'planId');
      await refused(CHANGE, { t: 'not-a-tenant', p: 'pro' }, 'tenantId must be a UUID', 'tenantId');
      expect(
        (await billing.graphql(platformAdmin, CREATE, { id: 'legacy', input: { ...TEAM, available: false } }))
          .errors,
      ).toBeUndefined();
      const answer = await billing.graphql(owner, CHANGE, { t: tenantId, p: 'legacy' });
      expect(answer.errors?.[0]).toMatchObject({
        message: 'Plan "Team" is no longer offered',
        extensions: { code: 'BAD_USER_INPUT' },
      });
      const read = await billing.graphql<{
        _entities: { subscription: { status: string; plan: { id: string } } }[];
      }>(owner, SUBSCRIPTION, { t: tenantId });
      expect(read.data!._entities[0]!.subscription).toMatchObject({ status: 'ACTIVE', plan: { id: 'free' } });
      expect(billing.ingest.events.filter((event) => event.aggregateId === tenantId)).toEqual([]);
    });

    it('refuses a plan in another currency while the tenant is billed in its own', async () => {
      const tenantId = randomUUID();
      const owner = user(tenantId, ['billing:read', 'billing:write']);
      expect(
        (await billing.graphql(platformAdmin, CREATE, { id: 'pro-usd', input: { ...TEAM, currency: 'USD' } }))
          .errors,
      ).toBeUndefined();
      expect((await billing.graphql(owner, CHANGE, { t: tenantId, p: 'pro' })).errors).toBeUndefined();
      await refused(
        CHANGE,
        { t: tenantId, p: 'pro-usd' },
        'Plan "Team" is in USD; the tenant is billed in EUR',
        'planId',
      );
      const read = await billing.graphql<{
        _entities: {
          subscription: {
            status: string;
            plan: { id: string };
            trialEndsAt: string;
            currentPeriodStart: string;
            currentPeriodEnd: string;
          };
        }[];
      }>(owner, SUBSCRIPTION, { t: tenantId });
      const subscription = read.data!._entities[0]!.subscription;
      expect(subscription).toMatchObject({ status: 'TRIALING', plan: { id: 'pro' } });
      expect(Date.parse(subscription.trialEndsAt) - Date.now()).toBeGreaterThan(13 * 86_400_000);
      const now = new Date();
      expect(subscription.currentPeriodStart).toBe(
        new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)).toISOString(),
      );
      expect(subscription.currentPeriodEnd).toBe(
        new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)).toISOString(),
      );
    });

    it('records plan changes of the catalogue as events, with the plan and who made it', async () => {
      expect(
        (
          await billing.graphql(platformAdmin, UPDATE, {
            id: 'pro',
            input: { ...TEAM, name: 'Pro', deviceQuota: 150, priceMinor: 5900 },
          })
        ).errors,
      ).toBeUndefined();
      const event = await eventually(() =>
        billing.ingest.events.find((e) => e.type === 'plan.updated' && e.aggregateId === 'pro'),
      );
      expect(event).toMatchObject({
        aggregateType: 'plan',
        tenantId: null,
        actor: { kind: 'user', id: (platformAdmin as { userId: string }).userId },
        payload: { planId: 'pro', deviceQuota: 150, priceMinor: 5900 },
      });
    });
  });
});
