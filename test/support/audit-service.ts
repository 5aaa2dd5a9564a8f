import { auditConfigSpec, startAudit } from '@fleet/audit';
import type { OutboxEvent } from '@fleet/outbox';
import { decodeKey, generateKey } from '@fleet/request-signing';
import {
  createLogger,
  loadConfig,
  signedPost,
  type Engine,
  type Principal,
  type StartedService,
} from '@fleet/service-kit';
import { gatewayGraphql, serviceStorage } from './service-under-test.js';
import { testPki } from './test-pki.js';

export type AuditPeer = 'gateway' | 'aaa' | 'devices' | 'billing';

export interface AuditUnderTest {
  baseUrl: string;
  /** The key of each pair audit belongs to. */
  keys: Record<AuditPeer, Buffer>;
  /** Ships events to `/ingest` as a producer does, signed with its pair's key; fails on a refusal. */
  ingest(producer: Exclude<AuditPeer, 'gateway'>, events: readonly OutboxEvent[]): Promise<void>;
  /** A GraphQL call as the gateway makes it, on the principal's behalf. */
  graphql<T>(
    principal: Principal,
    query: string,
    variables?: Record<string, unknown>,
  ): Promise<{ data?: T | null; errors?: { message: string; extensions?: { code?: string } }[] }>;
  stop(): Promise<void>;
}

/**
 * The audit service started on its own, as it runs in production: its own database on the
 * engine asked for, its signed routes over HTTP. `env` adds or overrides `AUDIT_` variables.
 */
export async function startAuditUnderTest(
  engine: Engine,
  env: Record<string, string> = {},
): Promise<AuditUnderTest> {
  const storage = await serviceStorage(engine, 'audit');
  const pki = await testPki();
  const newKey = () => decodeKey(generateKey()) as Buffer;
  const keys: Record<AuditPeer, Buffer> = {
    gateway: newKey(),
    aaa: newKey(),
    devices: newKey(),
    billing: newKey(),
  };
  let service: StartedService | undefined;
  const stop = async (): Promise<void> => {
    await service?.stop();
    await storage.remove();
  };
  try {
    const config = loadConfig(auditConfigSpec, 'AUDIT_', {
      AUDIT_PORT: '0',
      ...storage.env('AUDIT_'),
      AUDIT_KEY_GATEWAY: keys.gateway.toString('base64url'),
      AUDIT_KEY_AAA: keys.aaa.toString('base64url'),
      AUDIT_KEY_DEVICES: keys.devices.toString('base64url'),
      AUDIT_KEY_BILLING: keys.billing.toString('base64url'),
      AUDIT_LOG_LEVEL: 'silent',
      ...pki.env('audit'),
      ...env,
    });
    service = await startAudit(config, createLogger({ service: 'audit', level: 'silent' }));
  } catch (error) {
    await stop();
    throw error;
  }
  const baseUrl = `https://127.0.0.1:${service.port}`;
  return {
    baseUrl,
    keys,
    async ingest(producer, events) {
      const response = await signedPost({
        caller: producer,
        audience: 'audit',
        key: keys[producer],
        baseUrl,
        path: '/ingest',
        body: JSON.stringify({ events }),
        tls: pki.tls(producer),
      });
      if (!response.ok)
        throw new Error(`audit refused the batch: ${response.status} ${await response.text()}`);
      await response.body?.cancel();
    },
    graphql: gatewayGraphql({ audience: 'audit', key: keys.gateway, baseUrl, tls: pki.tls('gateway') }),
    stop,
  };
}
