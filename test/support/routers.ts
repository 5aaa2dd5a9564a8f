import { RouterClient } from '@fleet/router-api';
import { startSimulator, type InventoryEntry, type RouterSpec, type Simulator } from '@fleet/routeros-sim';
import type { TestFederation } from './test-federation.js';

export type { InventoryEntry, Simulator };

/** Simulated routers on loopback, for the devices a test enrolls. */
export function startRouters(routers: number | RouterSpec[]): Promise<Simulator> {
  return startSimulator({ routers });
}

/**
 * The part of a CreateDeviceInput that reaches a simulated router: its API-SSL port, its
 * certificate pinned, its administrator's credentials.
 */
export function reach(router: InventoryEntry) {
  return {
    host: router.host,
    port: router.tlsPort,
    username: router.username,
    password: router.password,
    tls: { mode: 'PINNED', fingerprint: router.fingerprint256 },
  };
}

/** Enrolls a simulated router into a tenant through the gateway (push, pinned); answers the device id. */
export async function enrollRouter(
  fleet: TestFederation,
  tenantId: string,
  router: InventoryEntry,
  name = router.name,
): Promise<string> {
  const created = await fleet.asAdmin<{ createDevice: { id: string } }>(
    'mutation($input: CreateDeviceInput!) { createDevice(input: $input) { id } }',
    { input: { tenantId, name, ...reach(router) } },
  );
  if (!created.data) throw new Error(`could not enroll ${router.name}: ${JSON.stringify(created.errors)}`);
  return created.data.createDevice.id;
}

/**
 * Runs `use` as the router's own administrator, straight over the RouterOS API (a test looking
 * at the router, or changing it behind the platform's back), and closes the connection after.
 */
export async function onRouter<T>(
  router: InventoryEntry,
  use: (client: RouterClient) => Promise<T>,
): Promise<T> {
  const client = new RouterClient({
    name: router.name,
    host: router.host,
    port: router.tlsPort,
    username: router.username,
    password: router.password,
    tls: { mode: 'pinned', fingerprint256: router.fingerprint256 },
  });
  try {
    return await use(client);
  } finally {
    await client.close();
  }
}
