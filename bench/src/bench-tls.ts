import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { loadOrCreatePki } from '@fleet/internal-pki';
import {
  CertificateDirectory,
  SUBGRAPH_NAMES,
  trustGatewayCertificate,
  type Federation,
  type ServiceName,
} from '@fleet/launcher';
import { createLogger, type MutualTls } from '@fleet/service-kit';

/**
 * An internal PKI's files as the launcher keeps them, for a benchmark that is a client of the
 * gateway, calls a subgraph as one of the services, or starts a service itself.
 */
export class BenchTls {
  readonly dir: string;
  readonly caFile: string;
  /** The authority's certificate (PEM): what a client of the gateway or of a service trusts. */
  readonly ca: string;
  readonly #certificates: CertificateDirectory;
  readonly #sides = new Map<ServiceName, MutualTls>();

  private constructor(dir: string) {
    this.#certificates = new CertificateDirectory(dir);
    this.dir = dir;
    this.caFile = this.#certificates.caFile;
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

  /** A service's certificate variables, for a process of it the benchmark starts. */
  env(service: ServiceName): Record<string, string> {
    return this.#certificates.variables(service);
  }

  /** A service's side of mutual TLS, to call a subgraph as that service does. */
  tls(service: ServiceName): MutualTls {
    let side = this.#sides.get(service);
    if (!side) {
      side = this.#certificates.mutualTls(
        service,
        createLogger({ service: `bench-${service}`, level: 'warn' }),
      );
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
