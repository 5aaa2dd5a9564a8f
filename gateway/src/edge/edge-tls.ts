import type { Server as HttpsServer, ServerOptions } from 'node:https';
import type { TLSSocket } from 'node:tls';
import {
  ConfigError,
  describeTlsFailure,
  MIN_TLS_VERSION,
  readCertificateFiles,
  TLS12_CIPHERS,
  watchFiles,
  type CertificateMaterial,
  type FileWatch,
  type Logger,
} from '@fleet/service-kit';
import type { GatewayConfig } from '../config.js';

/** A certificate this close to its end is warned about at start and on every reload. */
const EXPIRY_WARNING_MS = 14 * 24 * 3600 * 1000;

export interface EdgeTlsOptions {
  certFile: string;
  keyFile: string;
  reloadMs: number;
  logger: Logger;
}

/**
 * The gateway's public TLS: HTTPS and WSS with the configured certificate, TLS 1.2 or later with
 * forward-secret AEAD suites only. A certificate replaced on disk is taken up without a restart;
 * one that does not fit its key, or has expired, is refused loudly and the previous one kept.
 */
export class EdgeTls {
  readonly #options: EdgeTlsOptions;
  readonly #logger: Logger;
  #material: CertificateMaterial;
  readonly #servers = new Set<HttpsServer>();
  readonly #watch: FileWatch;

  constructor(options: EdgeTlsOptions) {
    this.#options = options;
    this.#logger = options.logger.child({ component: 'edge-tls' });
    this.#material = readCertificateFiles({ certFile: options.certFile, keyFile: options.keyFile });
    this.#announce('serving HTTPS');
    this.#watch = watchFiles([options.certFile, options.keyFile], options.reloadMs, () => this.#reload());
  }

  serverOptions(): ServerOptions {
    const { cert, key } = this.#material;
    return { cert, key, minVersion: MIN_TLS_VERSION, ciphers: TLS12_CIPHERS, honorCipherOrder: true };
  }

  /** Keeps the server's certificate current, and logs the handshakes it refuses. */
  attach(server: HttpsServer): void {
    this.#servers.add(server);
    server.on('tlsClientError', (error: NodeJS.ErrnoException, socket: TLSSocket) => {
      // Clients on the internet fail handshakes all the time: a warning, not an alarm.
      this.#logger.warn(
        { remote: socket.remoteAddress, code: error.code },
        `refused a TLS connection: ${describeTlsFailure(error.code, error.message)}`,
      );
    });
    server.once('close', () => this.#servers.delete(server));
  }

  close(): void {
    this.#watch.close();
  }

  #reload(): void {
    let material: CertificateMaterial;
    try {
      material = readCertificateFiles({ certFile: this.#options.certFile, keyFile: this.#options.keyFile });
    } catch (error) {
      this.#logger.error(
        { reason: (error as Error).message },
        'the certificate files changed but cannot be used; still serving the previous certificate',
      );
      return;
    }
    this.#material = material;
    for (const server of this.#servers) server.setSecureContext(this.serverOptions());
    this.#announce('took up a new certificate');
  }

  #announce(message: string): void {
    const { leaf } = this.#material;
    const validTo = new Date(leaf.validTo);
    const fields = { subject: leaf.subject, names: leaf.subjectAltName, validTo: validTo.toISOString() };
    this.#logger.info(fields, message);
    if (validTo.getTime() - Date.now() < EXPIRY_WARNING_MS) {
      this.#logger.warn(fields, 'the gateway’s certificate expires within 14 days: renew it');
    }
  }
}

/**
 * The edge's TLS from the configuration: a certificate and key, or plain HTTP when explicitly
 * asked for (with a warning); anything in between is refused, naming the variables.
 */
export function edgeTlsFromConfig(config: GatewayConfig, logger: Logger): EdgeTls | undefined {
  if (config.PLAINTEXT_HTTP) {
    logger.warn(
      'serving plain HTTP (GATEWAY_PLAINTEXT_HTTP): credentials and data cross the network unencrypted. For local development only.',
    );
    return undefined;
  }
  const problems: string[] = [];
  for (const [name, value] of [
    ['GATEWAY_TLS_CERT_FILE', config.TLS_CERT_FILE],
    ['GATEWAY_TLS_KEY_FILE', config.TLS_KEY_FILE],
  ] as const) {
    if (!value)
      problems.push(
        `${name}: required, as the gateway serves HTTPS only (GATEWAY_PLAINTEXT_HTTP=true serves plain HTTP, for local development only)`,
      );
  }
  if (!config.TLS_CERT_FILE || !config.TLS_KEY_FILE) throw new ConfigError(problems);
  try {
    return new EdgeTls({
      certFile: config.TLS_CERT_FILE,
      keyFile: config.TLS_KEY_FILE,
      reloadMs: config.TLS_RELOAD_MS,
      logger,
    });
  } catch (error) {
    throw new ConfigError([`GATEWAY_TLS_CERT_FILE: ${(error as Error).message}`]);
  }
}
