import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMember, bearer, signIn } from '../support/identities.js';
import { reach, startRouters, type Simulator } from '../support/routers.js';
import {
  createTenant,
  engineMatrix,
  eventually,
  startTestFederation,
  type TestFederation,
} from '../support/test-federation.js';

const CHANGE = 'mutation($t: ID!, $p: ID!) { changeTenantPlan(tenantId: $t, planId: $p) { id } }';
const CANCEL = 'mutation($t: ID!) { cancelSubscription(tenantId: $t) { id } }';
const PLAN = 'query($id: ID!) { tenant(id: $id) { plan { id } } }';
const CREATE = 'mutation($input: CreateDeviceInput!) { createDevice(input: $input) { id } }';
const REMOVE = 'mutation($id: ID!) { removeDevice(id: $id) }';

/** Each plan's tier a budget of its own, so that the RateLimit-Policy header tells them apart. */
const TIERS = { free: 100_000, standard: 200_000, enterprise: 300_000 };

/**
 * A tenant's plan through the whole federation, on both engines: its owner changes it at the
 * gateway, devices holds its device quota (a downgrade below the tenant's devices is refused,
 * saying how many), and the gateway sizes the tenant's rate limits by its tier.
 */
describe.each(await engineMatrix())('entitlements on $engine', ({ engine, enabled }) => {
  let fleet: TestFederation;
  let routers: Simulator;
  let tenantId: string;
  let owner: Record<string, string>;

  const as = <T>(query: string, variables: Record<string, unknown> = {}) =>
    fleet.graphql<T>(query, variables, owner);
  /** The tenant budget the gateway applied to the owner's request, from RateLimit-Policy. */
  const tenantBudget = async (): Promise<number> => {
    const response = await fleet.fetch(fleet.gatewayUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...owner },
      body: JSON.stringify({ query: '{ me { id } }' }),
    });
    await response.body?.cancel();
    const policy = response.headers.get('ratelimit-policy') ?? '';
    const match = /"tenant";q=(\d+);w=\d+/.exec(policy);
    if (!match) throw new Error(`no tenant budget in RateLimit-Policy: ${policy}`);
    return Number(match[1]);
  };
  const planOf = async () =>
    (await as<{ tenant: { plan: { id: string } } }>(PLAN, { id: tenantId })).data!.tenant.plan.id;

  beforeAll(async () => {
    if (!enabled) return;
    routers = await startRouters(1);
    fleet = await startTestFederation({
      engine,
      overrides: {
        gateway: {
          GATEWAY_RATE_LIMIT_TIERS: Object.entries(TIERS)
            .map(([tier, points]) => `${tier}=${points}/${points}/${points}`)
            .join(','),
          GATEWAY_PLAN_TIER_CACHE_S: '1',
        },
      },
    });
    tenantId = await createTenant(fleet, 'Entitled Networks', 'entitled');
    const member = await addMember(
      fleet,
      { id: tenantId, slug: 'entitled' },
      { email: 'owner@entitled.example', fullName: 'Owner', roles: ['owner'] },
    );
    owner = bearer((await signIn(fleet, member)).accessToken);
  });

  afterAll(async () => {
    await fleet?.destroy();
    await routers?.close();
  });

  it.runIf(enabled)(
    "follows the tenant's plan: its device quota in devices, its rate-limit tier at the gateway",
    async () => {
      expect(await tenantBudget()).toBe(TIERS.free);
      expect((await as(CHANGE, { t: tenantId, p: 'pro' })).errors).toBeUndefined();
      // The gateway asks billing again once the tenant's tier is a second old.
      await eventually(async () => ((await tenantBudget()) === TIERS.standard ? true : undefined), 5_000);

      const router = routers.inventory()[0]!;
      const ids: string[] = [];
      for (let i = 0; i < 7; i++) {
        const created = await as<{ createDevice: { id: string } }>(CREATE, {
          input: { tenantId, name: `edge-${i}`, ...reach(router) },
        });
        expect(created.errors).toBeUndefined();
        ids.push(created.data!.createDevice.id);
      }

      const downgrade = await as(CHANGE, { t: tenantId, p: 'free' });
      expect(downgrade.errors?.[0]).toMatchObject({
        message: 'The tenant has 7 devices; plan "Free" allows 5. Remove 2 devices before moving to it.',
        extensions: { code: 'CONFLICT' },
      });
      expect(await planOf()).toBe('pro');
      expect(await tenantBudget()).toBe(TIERS.standard);

      await as(REMOVE, { id: ids[0] });
      const stillTooMany = await as(CANCEL, { t: tenantId });
      expect(stillTooMany.errors?.[0]?.message).toBe(
        'The tenant has 6 devices; plan "Free" allows 5. Remove 1 device before moving to it.',
      );
      await as(REMOVE, { id: ids[1] });
      expect((await as(CANCEL, { t: tenantId })).errors).toBeUndefined();
      expect(await planOf()).toBe('free');
      await eventually(async () => ((await tenantBudget()) === TIERS.free ? true : undefined), 5_000);

      // Devices holds the free plan's quota: the tenant has 5 devices, and a sixth is refused.
      const sixth = await as(CREATE, { input: { tenantId, name: 'sixth', ...reach(router) } });
      expect(sixth.errors?.[0]).toMatchObject({
        message: "The tenant's plan allows 5 devices and it has 5; remove a device or choose a larger plan",
        extensions: { code: 'CONFLICT' },
      });

      expect((await fleet.asAdmin(CHANGE, { t: tenantId, p: 'enterprise' })).errors).toBeUndefined();
      await eventually(async () => ((await tenantBudget()) === TIERS.enterprise ? true : undefined), 5_000);
      // The upgrade reaches devices right after billing commits it.
      await eventually(async () => {
        const created = await as(CREATE, { input: { tenantId, name: 'sixth', ...reach(router) } });
        return created.errors ? undefined : true;
      }, 10_000);
      // Nothing was said of a tier the gateway does not know.
      expect(fleet.logs('gateway').join('\n')).not.toContain('does not list');
    },
    120_000,
  );
});
