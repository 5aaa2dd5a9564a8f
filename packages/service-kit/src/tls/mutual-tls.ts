import type { Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { ConnectionOptions, PeerCertificate, SecureContextOptions, TLSSocket } from 'node:tls';
import { Agent, buildConnector, type Dispatcher } from 'undici';
import { serviceIdentityOf } from '@fleet/internal-pki/service-identity';
import type { Logger } from '../logging/logger.js';
import {
  readCertificateFiles,
  type CertificateFiles,
  type CertificateMaterial,
} from './certificate-files.js';
import { describeTlsFailure, MIN_TLS_VERSION, TLS12_CIPHERS } from './tls-policy.js';
import { watchFiles, type FileWatch } from './watched-files.js';

export interface MutualTlsOptions extends CertificateFiles {
  readonly caFile: string;
  /** This service's name: the identity its certificate must carry. */
  readonly service: string;
  readonly logger: Logger;
  /** How often the files are checked for a new version (a renewed certificate). */
  readonly reloadMs: number;
}

/** The identity each accepted connection's certificate proved, by socket. */
const identities = new WeakMap<Socket, string>();

/**
 * The service that the connection a request arrived on proved to be, with a certificate of the
 * internal authority; undefined on a connection without mutual TLS.
 */
export function tlsIdentityOf(socket: Socket): string | undefined {
  return identities.get(socket);
}

/** Log lines about one peer's refusals, at most one per reason in this time. */
const REPEAT_LOG_MS = 10_000;

/**
 * One service's side of mutual TLS: its certificate, the authority it trusts, and the checks
 * made of every peer. As a server it accepts only the callers it is told (their certificates'
 * `urn:fleet:service:` names); as a client it calls a peer only when the peer's certificate names
 * that peer. Certificates renewed on disk are taken up without a restart: new connections use
 * them, and connections already open keep the identity they proved.
 */
export class MutualTls {
  readonly service: string;
  readonly #options: MutualTlsOptions;
  readonly #logger: Logger;
  #material: CertificateMaterial;
  readonly #servers = new Set<HttpsServer>();
  readonly #connectors = new Map<string, buildConnector.connector>();
  readonly #agents = new Map<string, Agent>();
  readonly #lastLogged = new Map<string, number>();
  readonly #watch: FileWatch;

  /** Reads the files and checks them; throws, naming the file, when they do not fit. */
  constructor(options: MutualTlsOptions) {
    this.service = options.service;
    this.#options = options;
    this.#logger = options.logger.child({ component: 'mutual-tls' });
    this.#material = this.#read();
    this.#logger.info(
      { validTo: new Date(this.#material.leaf.validTo).toISOString() },
      'mutual TLS on: this service presents its certificate and checks every peer’s',
    );
    const files = [options.certFile, options.keyFile, options.caFile];
    this.#watch = watchFiles(files, options.reloadMs, () => this.#reload());
  }

  /** The options of a TLS server that asks every client for a certificate of the authority. */
  serverOptions(): SecureContextOptions & { requestCert: true; rejectUnauthorized: true } {
    return { ...this.#secureContext(), requestCert: true, rejectUnauthorized: true };
  }

  /**
   * Guards a server made with `serverOptions()`: a connection whose certificate does not name one
   * of `callers` is closed before a byte of HTTP is read, and every refusal is logged with the
   * check that failed.
   */
  guard(server: HttpsServer, callers: ReadonlySet<string>): void {
    this.#servers.add(server);
    server.on('secureConnection', (socket: TLSSocket) => {
      const identity = serviceIdentityOf(socket.getPeerCertificate());
      if (socket.authorized && identity !== undefined && callers.has(identity)) {
        identities.set(socket, identity);
        return;
      }
      const reason = socket.authorized
        ? identity === undefined
          ? 'its certificate names no service'
          : `its certificate names ${identity}, which does not call ${this.service}`
        : describeTlsFailure(socket.authorizationError?.toString(), 'its certificate failed verification');
      this.#refused(
        `from:${identity ?? '?'}`,
        { remote: socket.remoteAddress, identity },
        `refused a TLS connection: ${reason}`,
      );
      socket.destroy();
    });
    server.on('tlsClientError', (error: NodeJS.ErrnoException, socket: TLSSocket) => {
      const verification = socket.authorizationError?.toString();
      const reason = describeTlsFailure(verification ?? error.code, error.message);
      this.#refused(
        `from:${verification ?? error.code ?? ''}`,
        { remote: socket.remoteAddress, code: verification ?? error.code },
        `refused a TLS connection: ${reason}`,
      );
    });
    server.once('close', () => this.#servers.delete(server));
  }

  /** An undici dispatcher for calls to `peer`, over connections that check it is that peer. */
  dispatcher(peer: string): Dispatcher {
    let agent = this.#agents.get(peer);
    if (!agent) {
      agent = new Agent({ connect: this.connector(peer), keepAliveTimeout: 30_000 });
      this.#agents.set(peer, agent);
    }
    return agent;
  }

  /** The connect function of an undici pool or agent that calls `peer`. */
  connector(peer: string): buildConnector.connector {
    return (options, callback) => {
      let connect = this.#connectors.get(peer);
      if (!connect) {
        connect = buildConnector(this.clientOptions(peer));
        this.#connectors.set(peer, connect);
      }
      connect(options, (...args) => {
        const [error] = args;
        if (error) {
          const code = (error as NodeJS.ErrnoException).code;
          this.#refused(
            `to:${peer}:${code ?? error.message}`,
            { peer, host: options.hostname, port: options.port, code },
            `could not open a TLS connection to ${peer}: ${describeTlsFailure(code, error.message)}`,
          );
        }
        callback(...args);
      });
    };
  }

  /** Options of `tls.connect` (a WebSocket's, say) for connections to `peer`. */
  clientOptions(peer: string): ConnectionOptions {
    return {
      ...this.#secureContext(),
      rejectUnauthorized: true,
      // The peer is known by its identity, not by the name it was dialled at: a service may sit
      // behind any address, and every certificate of the authority is valid for 127.0.0.1.
      checkServerIdentity: (_host: string, certificate: PeerCertificate) => {
        const identity = serviceIdentityOf(certificate);
        if (identity === peer) return undefined;
        const error: NodeJS.ErrnoException = new Error(
          `the server's certificate names ${identity ?? 'no service'}, not ${peer}`,
        );
        error.code = 'ERR_FLEET_PEER_IDENTITY';
        return error;
      },
    };
  }

  async close(): Promise<void> {
    this.#watch.close();
    const agents = [...this.#agents.values()];
    this.#agents.clear();
    await Promise.all(agents.map((agent) => agent.close()));
  }

  #secureContext(): SecureContextOptions {
    const { cert, key, ca } = this.#material;
    return { cert, key, ca, minVersion: MIN_TLS_VERSION, ciphers: TLS12_CIPHERS };
  }

  #read(): CertificateMaterial {
    const material = readCertificateFiles(this.#options);
    const identity = serviceIdentityOf(material.leaf);
    if (identity !== this.service) {
      throw new Error(
        `The certificate in ${this.#options.certFile} names ${identity ?? 'no service'} (URI urn:fleet:service:<name>), not ${this.service}`,
      );
    }
    return material;
  }

  /** Takes up renewed files; files that do not fit are refused, loudly, and the old ones kept. */
  #reload(): void {
    let material: CertificateMaterial;
    try {
      material = this.#read();
    } catch (error) {
      this.#logger.error(
        { reason: (error as Error).message },
        'the certificate files changed but cannot be used; still using the previous ones',
      );
      return;
    }
    this.#material = material;
    this.#connectors.clear();
    for (const server of this.#servers) server.setSecureContext(this.#secureContext());
    this.#logger.info(
      { validTo: new Date(material.leaf.validTo).toISOString() },
      'took up a renewed certificate',
    );
  }

  #refused(key: string, fields: Record<string, unknown>, message: string): void {
    const now = Date.now();
    if ((this.#lastLogged.get(key) ?? 0) > now - REPEAT_LOG_MS) return;
    this.#lastLogged.set(key, now);
    if (this.#lastLogged.size > 1_000) this.#lastLogged.clear();
    this.#logger.error(fields, message);
  }
}
