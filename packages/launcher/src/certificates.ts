import { join } from 'node:path';
import { loadOrCreatePki } from '@fleet/internal-pki';

/** The federation's internal authority and certificates, under the data directory. */
export interface FederationCertificates {
  readonly dir: string;
  /** The authority every service trusts, and what a client of the gateway's default edge trusts. */
  readonly caFile: string;
  certFile(service: string): string;
  keyFile(service: string): string;
  /** The gateway's public certificate when none is configured: localhost and the gateway's address. */
  readonly edgeCertFile: string;
  readonly edgeKeyFile: string;
}

/** How often the launcher looks whether a certificate is due for renewal. */
export const RENEWAL_CHECK_MS = 6 * 3600 * 1000;

/**
 * Creates, or keeps up, the internal PKI of `npm start`: on first start an authority and one
 * certificate per service (keys 0600), and an edge certificate for the gateway's clients; on
 * later starts and every few hours, what nears its expiry is issued anew. Services look for
 * renewed files on their own (`<PREFIX>TLS_RELOAD_MS`). Answers what was issued.
 */
export async function keepCertificates(
  dataDir: string,
  services: readonly string[],
  edgeNames: readonly string[],
): Promise<{ certificates: FederationCertificates; issued: readonly string[] }> {
  const dir = join(dataDir, 'pki');
  const pki = await loadOrCreatePki(dir, services, { edgeNames });
  return {
    issued: pki.issued,
    certificates: {
      dir,
      caFile: join(dir, 'ca.crt'),
      certFile: (service) => join(dir, `${service}.crt`),
      keyFile: (service) => join(dir, `${service}.key`),
      edgeCertFile: join(dir, 'edge.crt'),
      edgeKeyFile: join(dir, 'edge.key'),
    },
  };
}
