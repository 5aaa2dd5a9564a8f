import { Router, type RouterSpec, type SimulatedRouter } from './router.js';
import { simulatorCertificate } from './server/certificate.js';

export interface SimulatorOptions {
  /** Default 127.0.0.1. */
  host?: string;
  routers: number | RouterSpec[];
  /** Plain ports basePort+i, TLS ports basePort+count+i; 0 or undefined: ephemeral ports. */
  basePort?: number;
}

export interface InventoryEntry {
  name: string;
  host: string;
  port: number;
  tlsPort: number;
  username: string;
  password: string;
  version: string;
  fingerprint256: string;
}

export interface Simulator {
  readonly routers: readonly SimulatedRouter[];
  inventory(): InventoryEntry[];
  close(): Promise<void>;
}

/** Listeners opened at once while starting; more would only queue in the kernel. */
const OPEN_AT_ONCE = 64;

/** Starts simulated routers, each with its own plain and TLS listener, in this process. */
export async function startSimulator(options: SimulatorOptions): Promise<Simulator> {
  const host = options.host ?? '127.0.0.1';
  const specs: RouterSpec[] =
    typeof options.routers === 'number'
      ? Array.from({ length: options.routers }, () => ({}))
      : options.routers;
  if (!Number.isInteger(specs.length) || specs.length < 0)
    throw new Error('routers must be a count or a list');
  const basePort = options.basePort ?? 0;
  if (
    !Number.isInteger(basePort) ||
    basePort < 0 ||
    (basePort > 0 && basePort + 2 * specs.length - 1 > 65535)
  ) {
    throw new Error(`basePort ${basePort} leaves no room for ${specs.length} routers`);
  }
  const certificate = await simulatorCertificate();
  const routers = specs.map((spec, index) => new Router(spec, index, host, certificate));
  const names = new Set(routers.map((router) => router.name));
  if (names.size !== routers.length) throw new Error('router names must be unique');

  const close = async (): Promise<void> => {
    await Promise.all(routers.map((router) => router.close()));
  };
  for (let at = 0; at < routers.length; at += OPEN_AT_ONCE) {
    // Every listen of the batch settles before a failure closes them all, so none is left open.
    const results = await Promise.allSettled(
      routers.slice(at, at + OPEN_AT_ONCE).map((router, offset) => {
        const index = at + offset;
        return basePort === 0
          ? router.listen(0, 0)
          : router.listen(basePort + index, basePort + routers.length + index);
      }),
    );
    const failure = results.find((result) => result.status === 'rejected');
    if (failure) {
      await close();
      throw failure.reason;
    }
  }

  return {
    routers,
    inventory: () =>
      routers.map((router) => ({
        name: router.name,
        host: router.host,
        port: router.port,
        tlsPort: router.tlsPort,
        ...router.credentials,
        version: router.version,
        fingerprint256: router.fingerprint256,
      })),
    close,
  };
}
