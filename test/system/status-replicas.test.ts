import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Replica } from '@fleet/launcher';
import { enrollRouter, startRouters, type Simulator } from '../support/routers.js';
import { postgresSuiteEnabled } from '../support/postgres.js';
import { collect, subgraphWsClient } from '../support/subgraph-subscriptions.js';
import {
  choosePlan,
  createTenant,
  eventually,
  startTestFederation,
  type TestFederation,
} from '../support/test-federation.js';

const ROUTERS = 16;

/** The number of devices a devices process said it polls, from its last word on it. */
function pollingIn(lines: readonly string[]): number {
  for (let at = lines.length - 1; at >= 0; at--) {
    if (!lines[at]!.includes('devices polled here changed')) continue;
    return (JSON.parse(lines[at]!) as { polling: number }).polling;
  }
  return 0;
}

/**
 * Two devices processes on one PostgreSQL database and one Redis: they share the polling of the
 * fleet (each router has exactly one poller's connection), statuses polled by one reach the
 * subscribers of the other, and the devices of a process killed with SIGKILL are taken over.
 */
describe.runIf(await postgresSuiteEnabled())('live status across devices replicas, on Redis', () => {
  let fleet: TestFederation;
  let routers: Simulator;
  let tenantId: string;
  let second: Replica;
  const namespace = `test-${randomUUID()}`;

  /** Each router's API connections: the pollers' own, once enrollment is over. */
  const connections = () => routers.routers.map((router) => router.connectionCount);

  beforeAll(async () => {
    routers = await startRouters(ROUTERS);
    fleet = await startTestFederation({
      engine: 'postgres',
      overrides: {
        devices: {
          DEVICES_REDIS_URL: 'redis://127.0.0.1:6379',
          DEVICES_REDIS_NAMESPACE: namespace,
          DEVICES_POLL_LEASE_MS: '1500',
          DEVICES_STATUS_INTERVAL_MS: '300',
          DEVICES_STATUS_TIMEOUT_MS: '1000',
        },
      },
    });
    tenantId = await createTenant(fleet, 'Replicated', 'replicated');
    // More devices than the free plan allows.
    await choosePlan(fleet, tenantId, 'pro');
    for (const router of routers.inventory()) await enrollRouter(fleet, tenantId, router);
    second = await fleet.startReplica('devices');
  });

  afterAll(async () => {
    await fleet?.destroy();
    await routers?.close();
  });

  it('polls each router from exactly one of the two processes, and both take a share', async () => {
    await eventually(() => {
      const first = pollingIn(fleet.logs('devices'));
      const other = pollingIn(second.logs());
      return first + other === ROUTERS && first > 0 && other > 0 && connections().every((n) => n === 1)
        ? true
        : undefined;
    });
  });

  it("delivers to one process's subscribers the statuses the other polls", async () => {
    const subscription = collect<{ deviceStatusChanged: { device: { id: string } } }>(
      subgraphWsClient({ ...fleet, url: () => `https://127.0.0.1:${second.port}` }, 'devices', {
        kind: 'user',
        userId: randomUUID(),
        tenantId,
        roles: ['viewer'],
        scopes: ['devices:read'],
        sessionId: randomUUID(),
      }),
      'subscription($t: ID) { deviceStatusChanged(tenantId: $t) { device { id } } }',
      { t: tenantId },
    );
    try {
      await eventually(() =>
        new Set(subscription.events.map((event) => event.data?.deviceStatusChanged.device.id)).size ===
        ROUTERS
          ? true
          : undefined,
      );
      expect(subscription.error).toBeUndefined();
    } finally {
      await subscription.close();
    }
  });

  it("takes over a killed process's devices once their leases run out", async () => {
    const before = pollingIn(fleet.logs('devices'));
    expect(before).toBeLessThan(ROUTERS);
    await second.kill();
    await eventually(() =>
      pollingIn(fleet.logs('devices')) === ROUTERS && connections().every((n) => n === 1) ? true : undefined,
    );
    // Every device is polled again, those of the dead process included.
    const since = Date.now();
    await eventually(async () => {
      const listed = await fleet.asAdmin<{ devices: { status: { state: string; checkedAt: string } }[] }>(
        'query($t: ID!) { devices(tenantId: $t) { status { state checkedAt } } }',
        { t: tenantId },
      );
      const statuses = listed.data!.devices.map((device) => device.status);
      return statuses.length === ROUTERS &&
        statuses.every((status) => status.state === 'ONLINE' && Date.parse(status.checkedAt) > since)
        ? true
        : undefined;
    });
  });
});
