import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GATEWAY_NODE_OPTIONS } from '@fleet/gateway';
import type { Principal } from '@fleet/service-kit';
import { enrollRouter, startRouters, type InventoryEntry, type Simulator } from '../support/routers.js';
import { collect, subgraphWsClient, type OpenSubscription } from '../support/subgraph-subscriptions.js';
import {
  createTenant,
  engineMatrix,
  eventually,
  startTestFederation,
  type TestFederation,
} from '../support/test-federation.js';

interface Status {
  device: { id: string };
  state: string;
  error: string | null;
  cpuLoad: number | null;
  uptimeSeconds: number | null;
  interfaces: { name: string; rxBitsPerSecond: number | null; txBitsPerSecond: number | null }[];
}

const STATUS_FIELDS =
  'device { id } state since error cpuLoad uptimeSeconds interfaces { name rxBitsPerSecond txBitsPerSecond }';
const STATUS_BY_DEVICE = `subscription($d: ID) { deviceStatusChanged(deviceId: $d) { ${STATUS_FIELDS} } }`;
const STATUS_BY_TENANT = `subscription($t: ID) { deviceStatusChanged(tenantId: $t) { ${STATUS_FIELDS} } }`;

/** The errors a subscription was refused with: in its first result, or as its end. */
const refusal = (subscription: OpenSubscription<unknown>) =>
  subscription.events[0]?.errors ?? subscription.error;

const reader = (tenantId: string): Principal => ({
  kind: 'user',
  userId: randomUUID(),
  tenantId,
  roles: ['viewer'],
  scopes: ['devices:read'],
  sessionId: randomUUID(),
});

/**
 * Live status through the real federation against simulated routers: the pollers' state with
 * hysteresis and rates, served by the gateway, and the devices subgraph's own subscriptions over
 * graphql-ws: the connection signed as the gateway's, each subscription signed on its own for its
 * user (many users' on one connection, as the gateway holds it), with no event of another tenant's.
 */
describe.each(await engineMatrix())('live status on $engine', ({ engine, enabled }) => {
  let fleet: TestFederation;
  let routers: Simulator;
  let tenantA: string;
  let tenantB: string;
  const deviceOf = new Map<string, string>();

  const enroll = async (tenantId: string, router: InventoryEntry) => {
    deviceOf.set(router.name, await enrollRouter(fleet, tenantId, router));
  };
  const statusOf = async (id: string) => {
    const result = await fleet.asAdmin<{ device: { status: Status } }>(
      `query($id: ID!) { device(id: $id) { status { ${STATUS_FIELDS} } } }`,
      { id },
    );
    if (!result.data?.device) throw new Error(JSON.stringify(result.errors));
    return result.data.device.status;
  };

  beforeAll(async () => {
    if (!enabled) return;
    routers = await startRouters(3);
    fleet = await startTestFederation({
      engine,
      overrides: {
        devices: {
          DEVICES_STATUS_INTERVAL_MS: '200',
          DEVICES_STATUS_TIMEOUT_MS: '1000',
          DEVICES_STATUS_OFFLINE_AFTER: '2',
          DEVICES_STATUS_ONLINE_AFTER: '2',
          DEVICES_ROUTER_CONNECT_TIMEOUT_MS: '1000',
          // A heap limit, as a deployment sized to its fleet sets one.
          DEVICES_NODE_OPTIONS: '--max-old-space-size=512',
        },
      },
    });
    tenantA = await createTenant(fleet, 'Watched', 'watched');
    tenantB = await createTenant(fleet, 'Other', 'other-watched');
    const [a1, a2, b1] = routers.inventory();
    await enroll(tenantA, a1!);
    await enroll(tenantA, a2!);
    await enroll(tenantB, b1!);
  });

  afterAll(async () => {
    await fleet?.destroy();
    await routers?.close();
  });

  it.runIf(enabled)('serves each device online, with its resources and traffic rates', async () => {
    const id = deviceOf.get(routers.inventory()[0]!.name)!;
    const status = await eventually(async () => {
      const current = await statusOf(id);
      return current.state === 'ONLINE' && current.interfaces.some((item) => item.rxBitsPerSecond !== null)
        ? current
        : undefined;
    });
    expect(status.device.id).toBe(id);
    expect(status.cpuLoad).toBeGreaterThanOrEqual(0);
    expect(status.uptimeSeconds).toBeGreaterThan(0);
    const ether1 = status.interfaces.find((item) => item.name === 'ether1')!;
    expect(ether1.rxBitsPerSecond).toBeGreaterThan(0);
    // The tenant's list reads every status at once.
    const listed = await fleet.asAdmin<{ devices: { status: { state: string } }[] }>(
      'query($t: ID!) { devices(tenantId: $t) { status { state } } }',
      { t: tenantA },
    );
    expect(listed.data!.devices).toHaveLength(2);
  });

  it.runIf(enabled)('runs the devices process with the Node options given to it, and only it', () => {
    const environment = (service: 'devices' | 'gateway') =>
      readFileSync(`/proc/${fleet.pid(service)}/environ`, 'utf8').split('\0');
    expect(environment('devices')).toContain('NODE_OPTIONS=--max-old-space-size=512');
    // The gateway keeps its own default.
    expect(environment('gateway').filter((line) => line.startsWith('NODE_OPTIONS='))).toEqual([
      `NODE_OPTIONS=${GATEWAY_NODE_OPTIONS}`,
    ]);
  });

  it.runIf(enabled)('streams a device going offline and back online, with hysteresis', async () => {
    const router = routers.routers[1]!;
    const id = deviceOf.get(router.name)!;
    await eventually(async () => ((await statusOf(id)).state === 'ONLINE' ? true : undefined));
    const subscription = collect<{ deviceStatusChanged: Status }>(
      subgraphWsClient(fleet, 'devices', reader(tenantA)),
      STATUS_BY_DEVICE,
      { d: id },
    );
    try {
      await eventually(() => (subscription.events.length > 0 ? true : undefined));
      router.setOffline(true);
      await eventually(() =>
        subscription.events.some((event) => event.data?.deviceStatusChanged.state === 'OFFLINE')
          ? true
          : undefined,
      );
      router.setOffline(false);
      await eventually(() =>
        subscription.events.at(-1)?.data?.deviceStatusChanged.state === 'ONLINE' ? true : undefined,
      );
      const statuses = subscription.events.map((event) => event.data!.deviceStatusChanged);
      const wentOffline = statuses.findIndex((status) => status.state === 'OFFLINE');
      const cameBack = statuses.findIndex((status, at) => at > wentOffline && status.state === 'ONLINE');
      // Hysteresis: the first unanswered poll left the device online, the first answer offline.
      expect(statuses[wentOffline - 1]).toMatchObject({ state: 'ONLINE' });
      expect(statuses[wentOffline - 1]!.error).not.toBeNull();
      expect(statuses[cameBack - 1]).toMatchObject({ state: 'OFFLINE', error: null });
      expect(subscription.events.every((event) => event.data!.deviceStatusChanged.device.id === id)).toBe(
        true,
      );
      expect(subscription.error).toBeUndefined();
    } finally {
      await subscription.close();
    }
    await eventually(async () => ((await statusOf(id)).state === 'ONLINE' ? true : undefined));
  });

  it.runIf(enabled)(
    "a tenant's subscription receives its own devices' statuses, never another's",
    async () => {
      const names = new Map(
        routers
          .inventory()
          .slice(0, 2)
          .map((router) => [deviceOf.get(router.name)!, router.name]),
      );
      const mine = new Set(names.keys());
      // With the device's name too: read from the device, not only its key.
      const subscription = collect<{ deviceStatusChanged: Status & { device: { name: string } } }>(
        subgraphWsClient(fleet, 'devices', reader(tenantA)),
        'subscription($t: ID) { deviceStatusChanged(tenantId: $t) { state device { id name } } }',
        { t: tenantA },
      );
      try {
        await eventually(() => {
          const seen = new Set(subscription.events.map((event) => event.data?.deviceStatusChanged.device.id));
          return [...mine].every((id) => seen.has(id)) && subscription.events.length >= 10 ? true : undefined;
        });
        for (const event of subscription.events) {
          const { device } = event.data!.deviceStatusChanged;
          expect(device.name).toBe(names.get(device.id));
        }
      } finally {
        await subscription.close();
      }
    },
  );

  it.runIf(enabled)(
    "refuses to follow another tenant's device or tenant, and asks for one target",
    async () => {
      const foreign = deviceOf.get(routers.inventory()[2]!.name)!;
      for (const [query, variables, code] of [
        [STATUS_BY_DEVICE, { d: foreign }, 'NOT_FOUND'],
        [STATUS_BY_TENANT, { t: tenantB }, 'NOT_FOUND'],
        ['subscription { deviceStatusChanged { state } }', {}, 'BAD_USER_INPUT'],
      ] as const) {
        const subscription = collect(subgraphWsClient(fleet, 'devices', reader(tenantA)), query, variables);
        try {
          await eventually(() => (refusal(subscription) ? true : undefined));
          expect(JSON.stringify(refusal(subscription))).toContain(code);
          expect(subscription.events.some((event) => event.data)).toBe(false);
        } finally {
          await subscription.close();
        }
      }
    },
  );

  it.runIf(enabled)('accepts only upgrades signed with the gateway key, and only subscriptions', async () => {
    for (const options of [{ unsigned: true }, { key: Buffer.alloc(32, 7) }]) {
      const client = subgraphWsClient(fleet, 'devices', reader(tenantA), options);
      const subscription = collect(client, STATUS_BY_TENANT, { t: tenantA });
      try {
        await eventually(() => (subscription.error ? true : undefined));
        expect(subscription.events).toHaveLength(0);
        // Refused at the HTTP layer: the socket was never opened.
        expect(client.socketErrors).toContain('Unexpected server response: 401');
        expect(client.connections).toBe(0);
      } finally {
        await subscription.close();
      }
    }
    const query = collect(subgraphWsClient(fleet, 'devices', reader(tenantA)), 'query { __typename }');
    try {
      await eventually(() => (query.error ? true : undefined));
      expect(JSON.stringify(query.error)).toContain('Only subscriptions');
    } finally {
      await query.close();
    }
  });

  it.runIf(enabled)(
    "runs each subscription on one connection as its own principal, with its own tenant's events",
    async () => {
      const [a1, a2, b1] = routers.inventory().map((router) => deviceOf.get(router.name)!);
      // One connection, as the gateway holds one for all its users; the upgrade names none.
      const client = subgraphWsClient(fleet, 'devices', reader(tenantA));
      type Events = { deviceStatusChanged: Status };
      const ofA = collect<Events>(client, STATUS_BY_TENANT, { t: tenantA });
      const ofB = collect<Events>(client, STATUS_BY_TENANT, { t: tenantB }, { principal: reader(tenantB) });
      // The same operation as B's, signed for A's reader: refused, so the principal is the subscription's.
      const aFollowingB = collect<Events>(client, STATUS_BY_TENANT, { t: tenantB });
      const seen = (subscription: typeof ofA) =>
        new Set(subscription.events.map((event) => event.data?.deviceStatusChanged.device.id));
      try {
        await eventually(() =>
          seen(ofA).has(a1) && seen(ofA).has(a2) && seen(ofB).has(b1) && refusal(aFollowingB)
            ? true
            : undefined,
        );
        expect(seen(ofA)).toEqual(new Set([a1, a2]));
        expect(seen(ofB)).toEqual(new Set([b1]));
        expect(JSON.stringify(refusal(aFollowingB))).toContain('NOT_FOUND');
        expect(aFollowingB.events.some((event) => event.data)).toBe(false);
        expect([ofA.error, ofB.error]).toEqual([undefined, undefined]);
        expect({ connections: client.connections, closes: client.closes }).toEqual({
          connections: 1,
          closes: 0,
        });
      } finally {
        await aFollowingB.close();
        await ofB.close();
        await ofA.close();
      }
    },
  );

  it.runIf(enabled)(
    'refuses a subscribe without a valid signature of its own, and keeps the connection for the others',
    async () => {
      const client = subgraphWsClient(fleet, 'devices', reader(tenantA));
      const kept = collect<{ deviceStatusChanged: Status }>(client, STATUS_BY_TENANT, { t: tenantA });
      const refused: ReturnType<typeof collect>[] = [];
      try {
        await eventually(() => (kept.events.length > 0 ? true : undefined));
        for (const [query, options] of [
          [STATUS_BY_TENANT, { unsigned: true }],
          // Signed for one tenant's statuses, sent for the other's: changed after signing.
          [STATUS_BY_TENANT, { principal: reader(tenantB), signedVariables: { t: tenantB } }],
          [STATUS_BY_TENANT, { key: Buffer.alloc(32, 7) }],
          // Refused before it is parsed: no parse error tells anything to an unsigned sender.
          ['subscription {', { unsigned: true }],
        ] as const) {
          const subscription = collect(client, query, { t: tenantA }, options);
          refused.push(subscription);
          await eventually(() => (subscription.error ? true : undefined));
          expect(subscription.error).toEqual([
            { message: 'Unauthorized', extensions: { code: 'UNAUTHENTICATED' } },
          ]);
          expect(subscription.events).toHaveLength(0);
        }
        // The connection is still the first one, and still serves: the kept subscription, and a new one.
        const before = kept.events.length;
        const later = collect<{ deviceStatusChanged: Status }>(client, STATUS_BY_TENANT, { t: tenantA });
        refused.push(later);
        await eventually(() => (later.events.length > 0 && kept.events.length > before ? true : undefined));
        expect(later.error).toBeUndefined();
        expect(kept.error).toBeUndefined();
        expect({ connections: client.connections, closes: client.closes }).toEqual({
          connections: 1,
          closes: 0,
        });
      } finally {
        for (const subscription of refused) await subscription.close();
        await kept.close();
      }
    },
  );

  it.runIf(enabled)("streams a job's steps from its plan to its success", async () => {
    const deviceId = deviceOf.get(routers.inventory()[0]!.name)!;
    const template = await fleet.asAdmin<{ createTemplate: { id: string } }>(
      'mutation($input: CreateTemplateInput!) { createTemplate(input: $input) { id } }',
      {
        input: {
          tenantId: tenantA,
          name: 'watched',
          spec: {
            identity: { name: 'watched-gw' },
            firewallFilter: [1, 2, 3].map((n) => ({
              chain: 'input',
              action: 'accept',
              protocol: 'tcp',
              dstPort: String(n + 2000),
            })),
          },
        },
      },
    );
    const subscription = collect<{
      jobProgress: {
        job: { id: string; status: string };
        status: string;
        changesPlanned: number | null;
        changesDone: number;
      };
    }>(
      subgraphWsClient(fleet, 'devices', reader(tenantA)),
      'subscription($d: ID) { jobProgress(deviceId: $d) { job { id status } status changesPlanned changesDone message } }',
      { d: deviceId },
    );
    try {
      await subscription.started;
      const applied = await fleet.asAdmin<{ applyProvisioning: { id: string } }>(
        'mutation($d: ID!, $t: ID!) { applyProvisioning(deviceId: $d, templateId: $t) { id } }',
        { d: deviceId, t: template.data!.createTemplate.id },
      );
      const jobId = applied.data!.applyProvisioning.id;
      await eventually(() =>
        subscription.events.some((event) => event.data?.jobProgress.status === 'succeeded')
          ? true
          : undefined,
      );
      const steps = subscription.events.map((event) => event.data!.jobProgress);
      expect(steps.every((step) => step.job.id === jobId)).toBe(true);
      const planned = steps[0]!.changesPlanned!;
      expect(steps[0]).toMatchObject({ status: 'running', changesDone: 0 });
      expect(planned).toBeGreaterThanOrEqual(4);
      expect(steps.map((step) => step.changesDone)).toEqual([
        ...Array.from({ length: planned + 1 }, (_, done) => done),
        planned,
      ]);
      expect(steps.at(-1)).toMatchObject({ status: 'succeeded', job: { status: 'succeeded' } });
    } finally {
      await subscription.close();
    }
  });
});
