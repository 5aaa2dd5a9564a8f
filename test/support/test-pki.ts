import { rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOrCreatePki } from '@fleet/internal-pki';
import { Agent } from 'undici';
import { CertificateDirectory } from '@fleet/launcher/certificates';
import { createLogger, type MutualTls } from '@fleet/service-kit';

export const TEST_SERVICES = ['gateway', 'aaa', 'devices', 'billing', 'audit'] as const;
export type TestService = (typeof TEST_SERVICES)[number];

/** An internal authority and a certificate for each service, for services a test runs itself. */
export interface TestPki {
  readonly dir: string;
  readonly caFile: string;
  /**
   * `<PREFIX>MTLS_CERT_FILE`, `_KEY_FILE` and `_CA_FILE` of a service, for its configuration; for
   * the gateway its edge certificate (`GATEWAY_TLS_CERT_FILE`, `_KEY_FILE`) too.
   */
  env(service: TestService): Record<string, string>;
  /** A client of the gateway's HTTPS that trusts its edge certificate (an undici dispatcher). */
  readonly edgeClient: Agent;
  /** The authority's certificate (PEM). */
  readonly ca: string;
  /** A service's side of mutual TLS, for a test that calls (or stands in for) that service. */
  tls(service: TestService): MutualTls;
}

let shared: Promise<TestPki> | undefined;

/**
 * One PKI per test process, made on first use and removed when the process ends: services a
 * test starts in process run with mutual TLS, as they do in production.
 */
export function testPki(): Promise<TestPki> {
  shared ??= create();
  return shared;
}

async function create(): Promise<TestPki> {
  const dir = await mkdtemp(join(tmpdir(), 'fleet-pki-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const pki = await loadOrCreatePki(dir, TEST_SERVICES, { edgeNames: ['localhost', '127.0.0.1'] });
  const certificates = new CertificateDirectory(dir);
  const edgeClient = new Agent({ connect: { ca: pki.caCertificatePem } });
  const logger = createLogger({ service: 'test', level: 'silent' });
  const sides = new Map<TestService, MutualTls>();
  return {
    dir,
    caFile: certificates.caFile,
    ca: pki.caCertificatePem,
    edgeClient,
    env: (service) => certificates.variables(service),
    tls(service) {
      let side = sides.get(service);
      if (!side) {
        side = certificates.mutualTls(service, logger);
        sides.set(service, side);
      }
      return side;
    },
  };
}
