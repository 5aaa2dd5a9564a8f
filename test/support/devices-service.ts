import { createServer, type AddressInfo } from 'node:net';
import { devicesConfigSpec, startDevices } from '@fleet/devices';
import { decodeKey, generateKey } from '@fleet/request-signing';
import {
  createLogger,
  loadConfig,
  type Engine,
  type Principal,
  type StartedService,
} from '@fleet/service-kit';
import { startAuditIngest, type AuditIngest } from './audit-ingest.js';
import { gatewayGraphql, serviceStorage, type GraphQLAnswer } from './service-under-test.js';
import { testPki } from './test-pki.js';

export type { GraphQLAnswer } from './service-under-test.js';

export interface DevicesUnderTest {
  baseUrl: string;
  gatewayKey: Buffer;
  auditKey: Buffer;
  /** The key of the billing/devices pair. */
  billingKey: Buffer;
  /** The stand-in for audit's ingest the service ships its events to. */
  ingest: AuditIngest;
  /** A GraphQL call as the gateway makes it, on the principal's behalf. */
  graphql<T>(
    principal: Principal,
    query: string,
    variables?: Record<string, unknown>,
  ): Promise<GraphQLAnswer<T>>;
  stop(): Promise<void>;
}

/**
 * The devices service started on its own, as it runs in production: its own database on the
 * engine asked for, routers reachable on loopback, its outbox shipping to a stand-in for audit,
 * called over HTTP as the gateway calls it. `env` adds or overrides `DEVICES_` variables (a
 * `DEVICES_KEY_BILLING` given there is the pair key it answers billing with).
 */
export async function startDevicesUnderTest(
  engine: Engine,
  env: Record<string, string> = {},
): Promise<DevicesUnderTest> {
  const storage = await serviceStorage(engine, 'devices');
  const pki = await testPki();
  const gatewayKey = decodeKey(generateKey()) as Buffer;
  const auditKey = decodeKey(generateKey()) as Buffer;
  const billingKey = decodeKey(env.DEVICES_KEY_BILLING ?? generateKey()) as Buffer;
  const ingest = await startAuditIngest('devices', auditKey);
  let service: StartedService | undefined;
  const stop = async (): Promise<void> => {
    await service?.stop();
    await ingest.close();
    await storage.remove();
  };
  try {
    const config = loadConfig(devicesConfigSpec, 'DEVICES_', {
      DEVICES_PORT: '0',
      ...storage.env('DEVICES_'),
      DEVICES_KEY_GATEWAY: gatewayKey.toString('base64url'),
      DEVICES_KEY_AUDIT: auditKey.toString('base64url'),
      DEVICES_AUDIT_URL: ingest.url,
      DEVICES_OUTBOX_MAX_BACKOFF_MS: '500',
      DEVICES_ROUTER_NETWORKS: '127.0.0.0/8',
      DEVICES_LOG_LEVEL: 'silent',
      ...pki.env('devices'),
      ...env,
      DEVICES_KEY_BILLING: billingKey.toString('base64url'),
    });
    service = await startDevices(config, createLogger({ service: 'devices', level: 'silent' }));
  } catch (error) {
    await stop();
    throw error;
  }
  const baseUrl = `https://127.0.0.1:${service.port}`;
  return {
    baseUrl,
    gatewayKey,
    auditKey,
    billingKey,
    ingest,
    graphql: gatewayGraphql({
      audience: 'devices',
      key: gatewayKey,
      baseUrl,
      tls: pki.tls('gateway'),
      timeoutMs: 60_000,
    }),
    stop,
  };
}

/** A port nothing listens on right now, on loopback: for a service its peer must know first. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
