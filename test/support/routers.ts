import { startSimulator, type InventoryEntry, type RouterSpec, type Simulator } from '@fleet/routeros-sim';

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
