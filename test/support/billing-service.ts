import { startBilling, billingConfigSpec } from '@fleet/billing';
import { decodeKey, generateKey } from '@fleet/request-signing';
import {
  createLogger,
  loadConfig,
  type Engine,
  type Principal,
  type StartedService,
} from '@fleet/service-kit';
import { startAuditIngest, type AuditIngest } from './audit-ingest.js';
import {
  freePort,
  startDevicesUnderTest,
  type DevicesUnderTest,
  type GraphQLAnswer,
} from './devices-service.js';
import { gatewayGraphql, serviceStorage } from './service-under-test.js';
import { testPki } from './test-pki.js';

export type { GraphQLAnswer } from './devices-service.js';

export interface BillingUnderTest {
  baseUrl: string;
  /** The service's PostgreSQL URL, or undefined on the embedded database. */
  databaseUrl: string | undefined;
  /** Its data directory (the embedded database lives there). */
  dataDir: string;
  gatewayKey: Buffer;
  auditKey: Buffer;
  /** The stand-in for audit's ingest the service ships its events to. */
  ingest: AuditIngest;
  /** The real devices service billing pushes entitlements to (it asks billing back). */
  devices: DevicesUnderTest;
  /** The key of the billing/devices pair. */
  devicesKey: Buffer;
  /** A GraphQL call as the gateway makes it, on the principal's behalf. */
  graphql<T>(
    principal: Principal,
    query: string,
    variables?: Record<string, unknown>,
  ): Promise<GraphQLAnswer<T>>;
  stop(): Promise<void>;
}

/**
 * The billing service started as it runs in production: its own database on the engine asked
 * for, its outbox shipping to a stand-in for audit, beside a real devices service (on the same
 * engine) that it pushes entitlements to and that asks it back, called over HTTP as the gateway
 * calls it. `env` adds or overrides `BILLING_` variables, `devicesEnv` `DEVICES_` ones.
 */
export async function startBillingUnderTest(
  engine: Engine,
  env: Record<string, string> = {},
  devicesEnv: Record<string, string> = {},
): Promise<BillingUnderTest> {
  const storage = await serviceStorage(engine, 'billing');
  const pki = await testPki();
  const gatewayKey = decodeKey(generateKey()) as Buffer;
  const auditKey = decodeKey(generateKey()) as Buffer;
  const devicesKey = decodeKey(generateKey()) as Buffer;
  // Each must know the other's address: billing's port is chosen before devices starts.
  const port = await freePort();
  const devices = await startDevicesUnderTest(engine, {
    DEVICES_BILLING_URL: `https://127.0.0.1:${port}`,
    DEVICES_KEY_BILLING: devicesKey.toString('base64url'),
    ...devicesEnv,
  });
  const ingest = await startAuditIngest('billing', auditKey);
  let service: StartedService | undefined;
  const stop = async (): Promise<void> => {
    await service?.stop();
    await devices.stop();
    await ingest.close();
    await storage.remove();
  };
  try {
    const config = loadConfig(billingConfigSpec, 'BILLING_', {
      BILLING_PORT: String(port),
      BILLING_DEVICES_URL: devices.baseUrl,
      BILLING_KEY_DEVICES: devicesKey.toString('base64url'),
      ...storage.env('BILLING_'),
      BILLING_KEY_GATEWAY: gatewayKey.toString('base64url'),
      BILLING_KEY_AUDIT: auditKey.toString('base64url'),
      BILLING_AUDIT_URL: ingest.url,
      BILLING_OUTBOX_MAX_BACKOFF_MS: '500',
      BILLING_LOG_LEVEL: 'silent',
      ...pki.env('billing'),
      ...env,
    });
    service = await startBilling(config, createLogger({ service: 'billing', level: 'silent' }));
  } catch (error) {
    await stop();
    throw error;
  }
  const baseUrl = `https://127.0.0.1:${service.port}`;
  return {
    baseUrl,
    databaseUrl: storage.databaseUrl,
    dataDir: storage.dataDir,
    gatewayKey,
    auditKey,
    ingest,
    devices,
    devicesKey,
    graphql: gatewayGraphql({ audience: 'billing', key: gatewayKey, baseUrl, tls: pki.tls('gateway') }),
    stop,
  };
}
