import { join } from 'node:path';
import { loadOrCreatePki } from '@fleet/internal-pki';
import { MutualTls, type Logger } from '@fleet/service-kit';

/**
 * A directory of the internal PKI as `loadOrCreatePki` keeps it: `ca.crt`, `<service>.crt` and
 * `.key` for each service, `edge.crt` and `.key` for the gateway's clients.
 */
export class CertificateDirectory {
  readonly dir: string;
  /** The authority every service trusts, and what a client of the gateway's default edge trusts. */
  readonly caFile: string;
  /** The gateway's public certificate when none is configured: localhost and the gateway's address. */
  readonly edgeCertFile: string;
  readonly edgeKeyFile: string;

  constructor(dir: string) {
    this.dir = dir;
    this.caFile = join(dir, 'ca.crt');
    this.edgeCertFile = join(dir, 'edge.crt');
    this.edgeKeyFile = join(dir, 'edge.key');
  }

  certFile(service: string): string {
    return join(this.dir, `${service}.crt`);
  }

  keyFile(service: string): string {
    return join(this.dir, `${service}.key`);
  }

  /**
   * A service's TLS variables: its own certificate and key and the authority it checks peers by
   * (`<SERVICE>_MTLS_*`), and for the gateway its edge certificate (`GATEWAY_TLS_*`) as well.
   */
  variables(service: string): Record<string, string> {
    const prefix = `${service.toUpperCase()}_`;
    return {
      [`${prefix}MTLS_CERT_FILE`]: this.certFile(service),
      [`${prefix}MTLS_KEY_FILE`]: this.keyFile(service),
      [`${prefix}MTLS_CA_FILE`]: this.caFile,
      ...(service === 'gateway'
        ? { GATEWAY_TLS_CERT_FILE: this.edgeCertFile, GATEWAY_TLS_KEY_FILE: this.edgeKeyFile }
        : {}),
    };
  }

  /** A service's side of mutual TLS with these files: for a client that calls the services as it. */
  mutualTls(service: string, logger: Logger): MutualTls {
    return new MutualTls({
      service,
      certFile: this.certFile(service),
      keyFile: this.keyFile(service),
      caFile: this.caFile,
      reloadMs: 60_000,
      logger,
    });
  }
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
): Promise<{ certificates: CertificateDirectory; issued: readonly string[] }> {
  const certificates = new CertificateDirectory(join(dataDir, 'pki'));
  const pki = await loadOrCreatePki(certificates.dir, services, { edgeNames });
  return { certificates, issued: pki.issued };
}
