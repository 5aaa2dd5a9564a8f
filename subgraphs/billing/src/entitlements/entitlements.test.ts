import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeKey, generateKey } from '@fleet/request-signing';
import { startSimulator, type InventoryEntry, type Simulator } from '@fleet/routeros-sim';
import { signedPost, type Engine, type Principal } from '@fleet/service-kit';
import { startBillingUnderTest, type BillingUnderTest } from '../../../../test/support/billing-service.js';
import {
  freePort,
  startDevicesUnderTest,
  type DevicesUnderTest,
} from '../../../../test/support/devices-service.js';
import { postgresSuiteEnabled } from '../../../../test/support/postgres.js';
import { eventually } from '../../../../test/support/test-federation.js';
import { testPki, type TestService } from '../../../../test/support/test-pki.js';

/**
 * Billing and devices as they run in production, each with its own database on the engine
 * tested, talking over signed HTTP: billing pushes each tenant's device quota to devices
 * (`POST /entitlements`), devices asks billing when it knows none (`POST /entitlements/lookup`),
 * and devices enrolls simulated routers over API-SSL within that quota.
 */

const engines: { engine: Engine; enabled: boolean }[] = [
  { engine: 'pglite', enabled: true },
  { engine: 'postgres', enabled: await postgresSuiteEnabled() },
];

const CHANGE = 'mutation($t: ID!, $p: ID!) { changeTenantPlan(tenantId: $t, planId: $p) { id } }';
const CANCEL = 'mutation($t: ID!) { cancelSubscription(tenantId: $t) { id } }';
const PLAN =
  'query($t: ID!) { _entities(representations: [{ __typename: "Tenant", id: $t }]) { ... on Tenant { plan { id } } } }';
const CREATE = 'mutation($input: CreateDeviceInput!) { createDevice(input: $input) { id } }';
const REMOVE = 'mutation($id: ID!) { removeDevice(id: $id) }';
const DEVICES = 'query($t: ID!) { devices(tenantId: $t) { id } }';

/** A tenant's owner, as the gateway would sign on their behalf. */
function owner(tenantId: string): Principal {
  return {
    kind: 'user',
    userId: randomUUID(),
    tenantId,
    roles: ['owner'],
    scopes: ['tenant:read', 'devices:read', 'devices:write', 'billing:read', 'billing:write'],
    sessionId: randomUUID(),
  };
}

interface Answer {
  status: number;
  body: Record<string, unknown> & { errors?: { message: string; extensions: { code: string } }[] };
}

async function post(
  baseUrl: string,
  path: string,
  body: unknown,
  signer: { caller: string; audience: string; key: Buffer },
): Promise<Answer> {
  // Over the signer's own certificate: each signer here is one the service lets connect.
  const tls = (await testPki()).tls(signer.caller as TestService);
  const response = await signedPost({ ...signer, baseUrl, path, body: JSON.stringify(body), tls });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Answer['body']) : {} };
}

describe.each(engines)('entitlements between billing and devices on $engine', ({ engine, enabled }) => {
  describe.skipIf(!enabled)('quotas', () => {
    let routers: Simulator;
    let router: InventoryEntry;
    let billing: BillingUnderTest;
    let devices: DevicesUnderTest;

    beforeAll(async () => {
      routers = await startSimulator({ routers: 1 });
      router = routers.inventory()[0]!;
      billing = await startBillingUnderTest(engine, { BILLING_ENTITLEMENT_SYNC_INTERVAL_S: '1' });
      devices = billing.devices;
    }, 120_000);

    afterAll(async () => {
      await billing?.stop();
      await routers?.close();
    });

    const asBilling = () => ({ caller: 'billing', audience: 'devices', key: billing.devicesKey });
    const push = (body: Record<string, unknown>) => post(devices.baseUrl, '/entitlements', body, asBilling());

    const create = (tenantId: string, name: string) =>
      devices.graphql<{ createDevice: { id: string } }>(owner(tenantId), CREATE, {
        input: {
          tenantId,
          name,
          host: router.host,
          port: router.tlsPort,
          username: router.username,
          password: router.password,
          tls: { mode: 'PINNED', fingerprint: router.fingerprint256 },
        },
      });
    const enroll = async (tenantId: string, count: number, prefix = 'unit'): Promise<string[]> => {
      const ids: string[] = [];
      for (let i = 0; i < count; i++) {
        const created = await create(tenantId, `${prefix}-${i}`);
        if (!created.data) throw new Error(`could not enroll: ${JSON.stringify(created.errors)}`);
        ids.push(created.data.createDevice.id);
      }
      return ids;
    };
    const deviceCount = async (tenantId: string) =>
      (await devices.graphql<{ devices: unknown[] }>(owner(tenantId), DEVICES, { t: tenantId })).data!.devices
        .length;
    /** What devices holds for the tenant: an old push (version 1) changes nothing and answers it. */
    const held = async (tenantId: string) => {
      const answer = await push({ tenantId, deviceQuota: 0, version: 1, enforce: false });
      expect(answer.body.applied).toBe(false);
      return { deviceCount: answer.body.deviceCount, deviceQuota: answer.body.deviceQuota };
    };
    const planOf = async (tenantId: string) =>
      (
        await billing.graphql<{ _entities: { plan: { id: string } }[] }>(owner(tenantId), PLAN, {
          t: tenantId,
        })
      ).data!._entities[0]!.plan.id;

    it('learns a new tenant’s quota from billing, and of 20 creations at one below it admits exactly one', async () => {
      const tenantId = randomUUID();
      await enroll(tenantId, 4);
      // Devices knew nothing of the tenant: it asked billing, whose free plan allows 5.
      expect(await held(tenantId)).toEqual({ deviceCount: 4, deviceQuota: 5 });
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => create(tenantId, `burst-${i}`)));
      const admitted = results.filter((result) => result.data?.createDevice);
      expect(admitted).toHaveLength(1);
      for (const refused of results.filter((result) => !result.data?.createDevice)) {
        expect(refused.errors?.[0]).toMatchObject({
          message: "The tenant's plan allows 5 devices and it has 5; remove a device or choose a larger plan",
          extensions: { code: 'CONFLICT', field: 'tenantId' },
        });
      }
      expect(await deviceCount(tenantId)).toBe(5);
      expect(await held(tenantId)).toEqual({ deviceCount: 5, deviceQuota: 5 });
    }, 120_000);

    it('reaches devices after an upgrade; refuses a downgrade below the count, saying it, and changes nothing', async () => {
      const tenantId = randomUUID();
      await enroll(tenantId, 1);
      expect(await held(tenantId)).toMatchObject({ deviceQuota: 5 });
      expect(
        (await billing.graphql(owner(tenantId), CHANGE, { t: tenantId, p: 'pro' })).errors,
      ).toBeUndefined();
      // The upgrade reaches devices right after billing's commit.
      await eventually(async () => ((await held(tenantId)).deviceQuota === 100 ? true : undefined), 10_000);
      const ids = await enroll(tenantId, 6, 'more');
      expect(await deviceCount(tenantId)).toBe(7);

      const downgrade = await billing.graphql(owner(tenantId), CHANGE, { t: tenantId, p: 'free' });
      expect(downgrade.errors?.[0]).toMatchObject({
        message: 'The tenant has 7 devices; plan "Free" allows 5. Remove 2 devices before moving to it.',
        extensions: { code: 'CONFLICT' },
      });
      const cancel = await billing.graphql(owner(tenantId), CANCEL, { t: tenantId });
      expect(cancel.errors?.[0]?.message).toBe(
        'The tenant has 7 devices; plan "Free" allows 5. Remove 2 devices before moving to it.',
      );
      // Nothing changed, on either side.
      expect(await planOf(tenantId)).toBe('pro');
      expect(await held(tenantId)).toEqual({ deviceCount: 7, deviceQuota: 100 });

      for (const id of ids.slice(0, 2)) {
        expect((await devices.graphql(owner(tenantId), REMOVE, { id })).errors).toBeUndefined();
      }
      expect((await billing.graphql(owner(tenantId), CANCEL, { t: tenantId })).errors).toBeUndefined();
      expect(await planOf(tenantId)).toBe('free');
      // Devices holds the lower quota from before billing committed: no sixth device.
      expect(await held(tenantId)).toEqual({ deviceCount: 5, deviceQuota: 5 });
      const sixth = await create(tenantId, 'sixth');
      expect(sixth.errors?.[0]?.message).toBe(
        "The tenant's plan allows 5 devices and it has 5; remove a device or choose a larger plan",
      );
    }, 120_000);

    it('devices keeps the newest word only, refuses an enforced quota below the count, and hears billing alone', async () => {
      const tenantId = randomUUID();
      const first = await push({ tenantId, deviceQuota: 2, version: 1_000_000_000, enforce: false });
      expect(first).toMatchObject({
        status: 200,
        body: { tenantId, deviceCount: 0, deviceQuota: 2, version: 1_000_000_000, applied: true },
      });
      await enroll(tenantId, 2);
      const third = await create(tenantId, 'third');
      expect(third.errors?.[0]?.message).toBe(
        "The tenant's plan allows 2 devices and it has 2; remove a device or choose a larger plan",
      );

      // An older word, arriving late, is ignored: the answer tells what stands.
      const stale = await push({ tenantId, deviceQuota: 50, version: 999_999_999, enforce: false });
      expect(stale).toMatchObject({
        status: 200,
        body: { deviceCount: 2, deviceQuota: 2, version: 1_000_000_000, applied: false },
      });

      // Enforced below the count: refused with the count, and the quota stays.
      const enforced = await push({ tenantId, deviceQuota: 1, version: 1_000_000_001, enforce: true });
      expect(enforced.status).toBe(409);
      expect(enforced.body).toMatchObject({
        deviceCount: 2,
        deviceQuota: 1,
        errors: [
          {
            message: 'The tenant has 2 devices, more than the 1 of the plan',
            extensions: { code: 'CONFLICT' },
          },
        ],
      });
      // Not enforced (the plan changed whatever the count): stored, and nothing more fits.
      const lowered = await push({ tenantId, deviceQuota: 1, version: 1_000_000_002, enforce: false });
      expect(lowered.body).toMatchObject({ deviceCount: 2, deviceQuota: 1, applied: true });
      expect((await create(tenantId, 'over')).errors?.[0]?.message).toBe(
        "The tenant's plan allows 1 devices and it has 2; remove a device or choose a larger plan",
      );

      // Bad input is refused, naming the problem, and changes nothing.
      for (const [body, message] of [
        [
          { tenantId: 'nobody', deviceQuota: 5, version: 2_000_000_000, enforce: false },
          'tenantId must be a UUID',
        ],
        [{ tenantId, deviceQuota: -1, version: 2_000_000_000, enforce: false }, 'deviceQuota must be'],
        [{ tenantId, deviceQuota: 5, version: 0, enforce: false }, 'version must be a whole number from 1'],
        [{ tenantId, deviceQuota: 5, version: 2_000_000_000 }, 'enforce must be true or false'],
      ] as const) {
        const refused = await push(body);
        expect(refused.status).toBe(400);
        expect(refused.body.errors?.[0]?.message).toContain(message);
      }
      // Only billing, with the pair's key, is heard.
      const strangers = [
        { caller: 'gateway', audience: 'devices', key: devices.gatewayKey },
        { caller: 'audit', audience: 'devices', key: devices.auditKey },
        { caller: 'billing', audience: 'devices', key: decodeKey(generateKey()) as Buffer },
      ];
      for (const signer of strangers) {
        const refused = await post(
          devices.baseUrl,
          '/entitlements',
          { tenantId, deviceQuota: 500, version: 3_000_000_000, enforce: false },
          signer,
        );
        expect(refused.status, signer.caller).toBe(401);
      }
      expect(await held(tenantId)).toEqual({ deviceCount: 2, deviceQuota: 1 });
    }, 120_000);

    it('answers lookups to devices and the gateway only, each with its own key, with fresh versions', async () => {
      const tenantId = randomUUID();
      expect(
        (await billing.graphql(owner(tenantId), CHANGE, { t: tenantId, p: 'enterprise' })).errors,
      ).toBeUndefined();
      const ask = (signer: { caller: string; key: Buffer }, body: unknown = { tenantId }) =>
        post(billing.baseUrl, '/entitlements/lookup', body, { ...signer, audience: 'billing' });
      const fromDevices = await ask({ caller: 'devices', key: billing.devicesKey });
      const fromGateway = await ask({ caller: 'gateway', key: billing.gatewayKey });
      for (const answer of [fromDevices, fromGateway]) {
        expect(answer).toMatchObject({
          status: 200,
          body: { tenantId, planId: 'enterprise', deviceQuota: 10_000, rateLimitTier: 'enterprise' },
        });
      }
      expect(fromGateway.body.version).toBeGreaterThan(fromDevices.body.version as number);
      // A tenant that never left the free plan.
      expect(
        (await ask({ caller: 'gateway', key: billing.gatewayKey }, { tenantId: randomUUID() })).body,
      ).toMatchObject({
        planId: 'free',
        deviceQuota: 5,
        rateLimitTier: 'free',
      });
      const bad = await ask({ caller: 'gateway', key: billing.gatewayKey }, { tenantId: 'x' });
      expect(bad).toMatchObject({ status: 400, body: { errors: [{ message: 'tenantId must be a UUID' }] } });
      // The devices key signing as the gateway, audit's key, a key of no pair: refused.
      expect((await ask({ caller: 'gateway', key: billing.devicesKey })).status).toBe(401);
      expect((await ask({ caller: 'audit', key: billing.auditKey })).status).toBe(401);
      expect((await ask({ caller: 'devices', key: decodeKey(generateKey()) as Buffer })).status).toBe(401);
    });
  });

  describe.skipIf(!enabled)('when the other side does not answer', () => {
    let routers: Simulator;
    let router: InventoryEntry;

    beforeAll(async () => {
      routers = await startSimulator({ routers: 1 });
      router = routers.inventory()[0]!;
    });

    afterAll(async () => {
      await routers?.close();
    });

    it('devices creates nothing for a tenant it cannot learn the quota of', async () => {
      const devices = await startDevicesUnderTest(engine, {
        DEVICES_BILLING_URL: `https://127.0.0.1:${await freePort()}`,
      });
      try {
        const tenantId = randomUUID();
        const created = await devices.graphql<{ createDevice: { id: string } }>(owner(tenantId), CREATE, {
          input: {
            tenantId,
            name: 'edge',
            host: router.host,
            port: router.tlsPort,
            username: router.username,
            password: router.password,
            tls: { mode: 'PINNED', fingerprint: router.fingerprint256 },
          },
        });
        expect(created.errors?.[0]).toMatchObject({
          message:
            "The tenant's device quota cannot be checked with billing right now, so nothing was created; try again shortly",
          extensions: { code: 'SERVICE_UNAVAILABLE' },
        });
        const listed = await devices.graphql<{ devices: unknown[] }>(owner(tenantId), DEVICES, {
          t: tenantId,
        });
        expect(listed.data!.devices).toEqual([]);
      } finally {
        await devices.stop();
      }
    });

    it('billing refuses a downgrade it cannot make devices hold, and changes nothing', async () => {
      const billing = await startBillingUnderTest(engine, {
        BILLING_DEVICES_URL: `https://127.0.0.1:${await freePort()}`,
      });
      try {
        const tenantId = randomUUID();
        expect(
          (await billing.graphql(owner(tenantId), CHANGE, { t: tenantId, p: 'pro' })).errors,
        ).toBeUndefined();
        const refused = await billing.graphql(owner(tenantId), CHANGE, { t: tenantId, p: 'free' });
        expect(refused.errors?.[0]).toMatchObject({
          message:
            'The tenant\'s devices cannot be checked against plan "Free" right now, so its plan was not changed; try again shortly',
          extensions: { code: 'SERVICE_UNAVAILABLE' },
        });
        const plan = await billing.graphql<{ _entities: { plan: { id: string } }[] }>(owner(tenantId), PLAN, {
          t: tenantId,
        });
        expect(plan.data!._entities[0]!.plan.id).toBe('pro');
      } finally {
        await billing.stop();
      }
    });
  });
});
