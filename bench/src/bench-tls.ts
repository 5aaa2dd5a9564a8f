import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { loadOrCreatePki } from '@fleet/internal-pki';
import { SUBGRAPH_NAMES, trustGatewayCertificate, type Federation, type ServiceName } from '@fleet/launcher';
import { createLogger, MutualTls } from '@fleet/service-kit';

/**
 * An internal PKI's files as the launcher keeps them (`ca.crt`, `<service>.crt`/`.key`,
 * `edge.crt`/`.key` in one directory), for a benchmark that is a client of the gateway, calls a
 * subgraph as one of the services, or starts a service itself.
 */
export class BenchTls {
  readonly dir: string;
  readonly caFile: string;
  /** The authority's certificate (PEM): what a client of the gateway or of a service trusts. */
  readonly ca: string;
  readonly #sides = new Map<ServiceName, MutualTls>();

  private constructor(dir: string) {
    this.dir = dir;
    this.caFile = join(dir, 'ca.crt');
    this.ca = readFileSync(this.caFile, 'utf8');
  }

  /**
   * A running federation's PKI. From now on every undici `fetch` of this process (the GraphQL
   * calls to the gateway) trusts its authority.
   */
  static of(federation: Federation): BenchTls {
    trustGatewayCertificate(federation.caFile);
    return new BenchTls(dirname(federation.caFile));
  }

  /** A new authority and a certificate for every service, for services a benchmark starts itself. */
  static async create(dir: string): Promise<BenchTls> {
    await loadOrCreatePki(dir, ['gateway', ...SUBGRAPH_NAMES], { edgeNames: ['localhost', '127.0.0.1'] });
    return new BenchTls(dir);
  }

  /**
   * A service's certificate variables, for a process of it the benchmark starts: its mutual TLS,
   * and for the gateway its edge certificate as well.
   */
  env(service: ServiceName): Record<string, string> {
    const prefix = `${service.toUpperCase()}_`;
    return {
      [`${prefix}MTLS_CERT_FILE`]: join(this.dir, `${service}.crt`),
      [`${prefix}MTLS_KEY_FILE`]: join(this.dir, `${service}.key`),
      [`${prefix}MTLS_CA_FILE`]: this.caFile,
      ...(service === 'gateway'
        ? {
            GATEWAY_TLS_CERT_FILE: join(this.dir, 'edge.crt'),
            GATEWAY_TLS_KEY_FILE: join(this.dir, 'edge.key'),
          }
        : {}),
    };
  }

  /** A service's side of mutual TLS, to call a subgraph as that service does. */
  tls(service: ServiceName): MutualTls {
    let side = this.#sides.get(service);
    if (!side) {
      side = new MutualTls({
        service,
        certFile: join(this.dir, `${service}.crt`),
        keyFile: join(this.dir, `${service}.key`),
        caFile: this.caFile,
        reloadMs: 60_000,
        logger: createLogger({ service: `bench-${service}`, level: 'warn' }),
      });
      this.#sides.set(service, side);
    }
    return side;
  }

  async close(): Promise<void> {
    const sides = [...this.#sides.values()];
    this.#sides.clear();
    await Promise.all(sides.map((side) => side.close()));
  }
}
