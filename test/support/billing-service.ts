import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBilling, billingConfigSpec } from '@fleet/billing';
import { decodeKey, generateKey } from '@fleet/request-signing';
import {
  createLogger,
  encodePrincipal,
  loadConfig,
  signedPost,
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
import { createServiceDatabases } from './postgres.js';

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
  const dataDir = await mkdtemp(join(tmpdir(), 'billing-'));
  const gatewayKey = decodeKey(generateKey()) as Buffer;
  const auditKey = decodeKey(generateKey()) as Buffer;
  const devicesKey = decodeKey(generateKey()) as Buffer;
  // Each must know the other's address: billing's port is chosen before devices starts.
  const port = await freePort();
  const devices = await startDevicesUnderTest(engine, {
    DEVICES_BILLING_URL: `http://127.0.0.1:${port}`,
    DEVICES_KEY_BILLING: devicesKey.toString('base64url'),
    ...devicesEnv,
  });
  const ingest = await startAuditIngest('billing', auditKey);
  let databaseUrl: string | undefined;
  let dropDatabase: (() => Promise<void>) | undefined;
  if (engine === 'postgres') {
    const created = await createServiceDatabases(['billing']);
    databaseUrl = created.databases.billing.url;
    dropDatabase = created.drop;
  }
  let service: StartedService | undefined;
  const stop = async (): Promise<void> => {
    await service?.stop();
    await devices.stop();
    await ingest.close();
    await dropDatabase?.();
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    const config = loadConfig(billingConfigSpec, 'BILLING_', {
      BILLING_PORT: String(port),
      BILLING_DEVICES_URL: devices.baseUrl,
      BILLING_KEY_DEVICES: devicesKey.toString('base64url'),
      BILLING_DATA_DIR: dataDir,
      ...(databaseUrl ? { BILLING_DATABASE_URL: databaseUrl } : {}),
      BILLING_KEY_GATEWAY: gatewayKey.toString('base64url'),
      BILLING_KEY_AUDIT: auditKey.toString('base64url'),
      BILLING_AUDIT_URL: ingest.url,
      BILLING_OUTBOX_MAX_BACKOFF_MS: '500',
      BILLING_LOG_LEVEL: 'silent',
      ...env,
    });
    service = await startBilling(config, createLogger({ service: 'billing', level: 'silent' }));
  } catch (error) {
    await stop();
    throw error;
  }
  const baseUrl = `http://127.0.0.1:${service.port}`;
  return {
    baseUrl,
    databaseUrl,
    dataDir,
    gatewayKey,
    auditKey,
    ingest,
    devices,
    devicesKey,
    async graphql<T>(principal: Principal, query: string, variables: Record<string, unknown> = {}) {
      const response = await signedPost({
        caller: 'gateway',
        audience: 'billing',
        key: gatewayKey,
        baseUrl,
        path: '/graphql',
        body: JSON.stringify({ query, variables }),
        principal: encodePrincipal(principal),
      });
      return (await response.json()) as GraphQLAnswer<T>;
    },
    stop,
  };
}
