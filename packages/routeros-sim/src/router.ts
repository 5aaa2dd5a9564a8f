import { randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { Faults, type FaultState } from './faults/fault-state.js';
import type { RouterFacts } from './menus/definition.js';
import { printedRow } from './menus/printing.js';
import { RouterConfig } from './menus/router-config.js';
import { findMenu } from './menus/table.js';
import { variation } from './menus/variation.js';
import type { RouterActions } from './protocol/command-context.js';
import type { SessionRouter } from './protocol/session.js';
import { versionProfile } from './protocol/versions.js';
import type { SimulatorCertificate } from './server/certificate.js';
import { ApiConnection } from './server/connection.js';

export interface RouterSpec {
  name?: string;
  /** '6.42' | '6.49' | '7.16' | '7.18'; default '7.18'. */
  version?: string;
  /** Default: [{ name: 'admin', password: 'admin', group: 'full' }]. */
  users?: { name: string; password: string; group?: string }[];
  /** Ethernet interfaces, default 5. */
  interfaces?: number;
}

export interface SimulatedRouter {
  readonly name: string;
  readonly version: string;
  readonly host: string;
  readonly port: number;
  readonly tlsPort: number;
  readonly certificatePem: string;
  /** As Node's X509Certificate.fingerprint256: 'AB:CD:…'. */
  readonly fingerprint256: string;
  /** Mutable; changes take effect on the next command or connection. */
  faults: FaultState;
  reboot(): void;
  setOffline(offline: boolean): void;
  /** Direct, synchronous access to a menu's rows for assertions, as the router would print them. */
  rows(path: string): Record<string, string>[];
  /** Number of currently open API connections (plain and TLS). */
  readonly connectionCount: number;
}

type Facts = { -readonly [K in keyof RouterFacts]: RouterFacts[K] };

const DEFAULT_USERS = [{ name: 'admin', password: 'admin', group: 'full' }] as const;
const MONTH_MS = 30 * 24 * 3600_000;
/** How long after an API reboot the router goes down: long enough for its `!done` to leave. */
const REBOOT_DELAY_MS = 20;

/**
 * One simulated router: its configuration (made when first touched), its faults, and its two
 * listeners, plain API and API-SSL.
 */
export class Router implements SimulatedRouter, SessionRouter {
  readonly name: string;
  readonly version: string;
  readonly host: string;
  port = 0;
  tlsPort = 0;
  readonly certificatePem: string;
  readonly fingerprint256: string;
  readonly facts: RouterFacts;
  readonly actions: RouterActions;
  /** Challenges to hand out before random ones (tests use the manual's vectors). */
  readonly pendingChallenges: string[] = [];
  readonly #facts: Facts;
  readonly #faults = new Faults();
  readonly #certificate: SimulatorCertificate;
  readonly #connections = new Set<ApiConnection>();
  readonly #servers: Server[] = [];
  #config: RouterConfig | undefined;
  #offline = false;

  constructor(spec: RouterSpec, index: number, host: string, certificate: SimulatorCertificate) {
    const profile = versionProfile(spec.version);
    this.name = spec.name ?? `router-${index + 1}`;
    this.version = profile.key;
    this.host = host;
    this.#certificate = certificate;
    this.certificatePem = certificate.certificatePem;
    this.fingerprint256 = certificate.fingerprint256;
    const interfaces = spec.interfaces ?? 5;
    if (!Number.isInteger(interfaces) || interfaces < 1 || interfaces > 256) {
      throw new Error(`interfaces must be an integer from 1 to 256, not ${interfaces}`);
    }
    const users = (spec.users ?? DEFAULT_USERS).map(({ name, password, group }) => ({
      name,
      password,
      group: group ?? 'full',
    }));
    if (users.length === 0) throw new Error(`router ${this.name} needs at least one user`);
    this.#facts = {
      name: this.name,
      index,
      profile,
      interfaces,
      users,
      bootTime: Date.now() - Math.floor(variation(index, 1) * MONTH_MS),
      installedVersion: profile.release,
      now: () => Date.now(),
    };
    this.facts = this.#facts;
    this.actions = {
      reboot: () => setTimeout(() => this.reboot(), REBOOT_DELAY_MS).unref(),
      install: (release) => {
        this.#facts.installedVersion = release;
        this.actions.reboot();
      },
    };
  }

  get config(): RouterConfig {
    this.#config ??= new RouterConfig(this.facts);
    return this.#config;
  }

  get faults(): Faults {
    return this.#faults;
  }

  set faults(state: FaultState) {
    this.#faults.assign(state);
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  /** The first user: what an inventory hands out. */
  get credentials(): { username: string; password: string } {
    const [first] = this.#facts.users;
    return { username: first!.name, password: first!.password };
  }

  nextChallenge(): string {
    return this.pendingChallenges.shift() ?? randomBytes(16).toString('hex');
  }

  reboot(): void {
    this.#facts.bootTime = Date.now();
    this.#dropAll();
  }

  setOffline(offline: boolean): void {
    this.#offline = offline;
    if (offline) this.#dropAll();
  }

  rows(path: string): Record<string, string>[] {
    const definition = findMenu(path);
    if (!definition || definition.commandsOnly) throw new Error(`no menu ${path}`);
    return this.config
      .store(path)
      .rows()
      .map((row) => printedRow(definition, row, this.facts));
  }

  /** Opens both listeners; port 0 picks a free one. */
  async listen(port: number, tlsPort: number): Promise<void> {
    this.port = await this.#open(port, (socket) => this.#accept(socket));
    this.tlsPort = await this.#open(tlsPort, (socket) => {
      const secure = new TLSSocket(socket, {
        isServer: true,
        secureContext: this.#certificate.secureContext,
      });
      secure.on('error', () => secure.destroy());
      this.#accept(secure);
    });
  }

  async close(): Promise<void> {
    this.#dropAll();
    await Promise.all(
      this.#servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))),
    );
    this.#servers.length = 0;
  }

  #open(port: number, onSocket: (socket: Socket) => void): Promise<number> {
    const server = createServer((socket) => {
      if (this.#offline) {
        socket.resetAndDestroy();
        return;
      }
      onSocket(socket);
    });
    this.#servers.push(server);
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: this.host, port }, () => {
        server.off('error', reject);
        const address = server.address();
        resolve(typeof address === 'object' && address ? address.port : port);
      });
    });
  }

  #accept(socket: Socket | TLSSocket): void {
    const connection: ApiConnection = new ApiConnection(socket, this, () =>
      this.#connections.delete(connection),
    );
    this.#connections.add(connection);
  }

  #dropAll(): void {
    for (const connection of [...this.#connections]) connection.drop();
  }
}
