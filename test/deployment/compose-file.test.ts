import { spawn, spawnSync } from 'node:child_process';
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer as createHttpsServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { aaaConfigSpec } from '@fleet/aaa';
import { auditConfigSpec } from '@fleet/audit';
import { billingConfigSpec } from '@fleet/billing';
import { devicesConfigSpec } from '@fleet/devices';
import { GATEWAY_NODE_OPTIONS, gatewayConfigSpec } from '@fleet/gateway';
import { loadConfig, type ConfigSpec } from '@fleet/service-kit';

/**
 * docker-compose.yml and deploy/postgres/init.sh against the services' own configuration
 * declarations: a variable added to a service, a key pair miswired or a database shared between
 * services fails here instead of at the first deployment.
 */

const ROOT = new URL('../../', import.meta.url);
const INIT_SCRIPT_PATH = fileURLToPath(new URL('deploy/postgres/init.sh', ROOT));

interface ComposeService {
  build?: string | { context?: string; dockerfile?: string };
  image?: string;
  command?: string | string[];
  environment?: Record<string, string | number | boolean | null> | string[];
  ports?: unknown[];
  volumes?: (string | LongVolume)[];
  read_only?: boolean;
  cap_drop?: string[];
  user?: string;
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: { test?: string | string[] };
}

interface LongVolume {
  type?: string;
  source?: string;
  target?: string;
  read_only?: boolean;
  volume?: { subpath?: string; nocopy?: boolean };
}

interface ComposeFile {
  services?: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

const compose = parse(readFileSync(new URL('docker-compose.yml', ROOT), 'utf8')) as ComposeFile;
const initScript = readFileSync(INIT_SCRIPT_PATH, 'utf8');

type ServiceName = 'gateway' | 'aaa' | 'devices' | 'billing' | 'audit';

const SERVICES: Record<ServiceName, { prefix: string; spec: ConfigSpec; entry: string }> = {
  gateway: { prefix: 'GATEWAY_', spec: gatewayConfigSpec, entry: 'gateway/dist/main.js' },
  aaa: { prefix: 'AAA_', spec: aaaConfigSpec, entry: 'subgraphs/aaa/dist/main.js' },
  devices: { prefix: 'DEVICES_', spec: devicesConfigSpec, entry: 'subgraphs/devices/dist/main.js' },
  billing: { prefix: 'BILLING_', spec: billingConfigSpec, entry: 'subgraphs/billing/dist/main.js' },
  audit: { prefix: 'AUDIT_', spec: auditConfigSpec, entry: 'subgraphs/audit/dist/main.js' },
};
const SERVICE_NAMES = Object.keys(SERVICES) as ServiceName[];
const SUBGRAPHS = ['aaa', 'devices', 'billing', 'audit'] as const satisfies readonly ServiceName[];
/** Variables a service may receive besides its own prefixed ones. */
const SHARED_VARIABLES = new Set(['APOLLO_TELEMETRY_DISABLED', 'NODE_ENV']);

/** Every pair of services that signs calls between them, each end's variable. */
const KEY_PAIRS: ReadonlyArray<readonly [string, string]> = [
  ['GATEWAY_KEY_AAA', 'AAA_KEY_GATEWAY'],
  ['GATEWAY_KEY_DEVICES', 'DEVICES_KEY_GATEWAY'],
  ['GATEWAY_KEY_BILLING', 'BILLING_KEY_GATEWAY'],
  ['GATEWAY_KEY_AUDIT', 'AUDIT_KEY_GATEWAY'],
  ['AAA_KEY_AUDIT', 'AUDIT_KEY_AAA'],
  ['DEVICES_KEY_AUDIT', 'AUDIT_KEY_DEVICES'],
  ['BILLING_KEY_AUDIT', 'AUDIT_KEY_BILLING'],
  ['BILLING_KEY_DEVICES', 'DEVICES_KEY_BILLING'],
];

function service(name: string): ComposeService {
  const found = compose.services?.[name];
  if (!found) throw new Error(`docker-compose.yml has no service "${name}"`);
  return found;
}

/** A service's environment as name → raw (uninterpolated) text, whichever form compose uses. */
function environmentOf(name: string): Record<string, string> {
  const environment = service(name).environment ?? {};
  if (Array.isArray(environment)) {
    return Object.fromEntries(
      environment.map((entry) => {
        const at = entry.indexOf('=');
        return at === -1 ? [entry, ''] : [entry.slice(0, at), entry.slice(at + 1)];
      }),
    );
  }
  return Object.fromEntries(
    Object.entries(environment).map(([key, value]) => [key, value === null ? '' : String(value)]),
  );
}

function variable(serviceName: ServiceName, fullName: string): string {
  const value = environmentOf(serviceName)[fullName];
  if (value === undefined) throw new Error(`${serviceName} does not receive ${fullName}`);
  return value;
}

interface Reference {
  name: string;
  operator: string | undefined;
  argument: string | undefined;
}

const REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}/g;

/** The `${...}` interpolations of a compose value (`$$` is a literal dollar). */
function referencesIn(value: string): Reference[] {
  return [...value.replaceAll('$$', '').matchAll(REFERENCE)].map((match) => ({
    name: match[1]!,
    operator: match[2],
    argument: match[3],
  }));
}

/** The variable of a value that must be exactly one `${NAME:?message}`: compose stops without it. */
function requiredReference(value: string, what: string): string {
  const match = /^\$\{([A-Za-z_][A-Za-z0-9_]*):\?([^}]+)\}$/.exec(value);
  if (!match) throw new Error(`${what} must be exactly \${NAME:?message}, got "${value}"`);
  return match[1]!;
}

/**
 * A stand-in for a secret: 32 bytes of base64url, the same for the same variable only; a key
 * ring (`…_KEYS`) gets one entry.
 */
function standIn(name: string): string {
  const key = createHash('sha256').update(name).digest('base64url');
  return name.endsWith('_KEYS') ? `k1:${key}` : key;
}

/** The environment a service would see, with every secret given a stand-in value. */
function resolvedEnvironment(name: ServiceName): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(environmentOf(name)).map(([key, value]) => [
      key,
      value
        .replaceAll('$$', '\0')
        .replace(REFERENCE, (_text, variableName: string, operator?: string, argument?: string) =>
          operator === '-' || operator === ':-' ? (argument ?? '') : standIn(variableName),
        )
        .replaceAll('\0', '$'),
    ]),
  );
}

function portOf(name: ServiceName): number {
  const { prefix, spec } = SERVICES[name];
  const raw = environmentOf(name)[`${prefix}PORT`] ?? spec.PORT?.defaultText;
  expect(raw, `${name}'s port`).toMatch(/^\d+$/);
  return Number(raw);
}

const DATABASE_URL =
  /^postgres(?:ql)?:\/\/(?<user>[^:@/]+):(?<password>\$\{[^}]*\})@(?<host>[^:/@]+):(?<port>\d+)\/(?<database>[^/?#]+)$/;

function databaseOf(name: ServiceName): {
  user: string;
  passwordVariable: string;
  host: string;
  port: string;
  database: string;
} {
  const fullName = `${SERVICES[name].prefix}DATABASE_URL`;
  const value = variable(name, fullName);
  const groups = DATABASE_URL.exec(value)?.groups;
  if (!groups) {
    throw new Error(`${fullName} must be postgres://<role>:\${PASSWORD:?...}@<host>:<port>/<database>`);
  }
  return {
    user: groups.user!,
    passwordVariable: requiredReference(groups.password!, `the password in ${fullName}`),
    host: groups.host!,
    port: groups.port!,
    database: groups.database!,
  };
}

describe('docker-compose.yml', () => {
  it('runs PostgreSQL, Redis, the internal PKI and the five services', () => {
    expect(Object.keys(compose.services ?? {}).sort()).toEqual(
      ['postgres', 'redis', 'pki', ...SERVICE_NAMES].sort(),
    );
    expect(service('postgres').image).toMatch(/^postgres:17/);
    expect(service('redis').image).toMatch(/^redis:7/);
  });

  describe.each(SERVICE_NAMES)('%s', (name) => {
    const { prefix, spec, entry } = SERVICES[name];

    it('receives every variable its configuration requires', () => {
      const environment = environmentOf(name);
      const required = Object.entries(spec)
        .filter(([, declared]) => declared.required)
        .map(([key]) => prefix + key);
      expect(required.length).toBeGreaterThan(0);
      const missing = required.filter((fullName) => !environment[fullName]);
      expect(missing, `required by ${name} but not given`).toEqual([]);
    });

    it('receives only variables its configuration declares', () => {
      const unknown = Object.keys(environmentOf(name)).filter(
        (fullName) =>
          !SHARED_VARIABLES.has(fullName) &&
          !(fullName.startsWith(prefix) && Object.hasOwn(spec, fullName.slice(prefix.length))),
      );
      expect(unknown, `not read by ${name}`).toEqual([]);
    });

    it('takes every secret from the environment, refusing to start without it', () => {
      const environment = environmentOf(name);
      const secrets = Object.entries(spec)
        .filter(([key, declared]) => declared.secret && environment[prefix + key] !== undefined)
        .map(([key]) => prefix + key);
      expect(secrets.length).toBeGreaterThan(0);
      for (const fullName of secrets) {
        const references = referencesIn(environment[fullName]!);
        expect(references.length, `${fullName} must come from the environment`).toBeGreaterThan(0);
        for (const reference of references) {
          expect(reference.operator, `${fullName} uses \${${reference.name}} without :?`).toBe(':?');
          expect(reference.argument?.trim(), `${fullName}: \${${reference.name}:?} needs a message`).not.toBe(
            '',
          );
        }
      }
    });

    it('has a configuration the service itself accepts', () => {
      expect(() => loadConfig(spec, prefix, resolvedEnvironment(name))).not.toThrow();
    });

    it('listens on the container network, is built from the Dockerfile and runs its own entry point', () => {
      expect(environmentOf(name)[`${prefix}HOST`]).toBe('0.0.0.0');
      const { build, command } = service(name);
      expect(typeof build === 'string' ? build : build?.context).toBe('.');
      // The gateway's process runs with its production Node options (GATEWAY_NODE_OPTIONS).
      const options = name === 'gateway' ? GATEWAY_NODE_OPTIONS.split(' ') : [];
      expect(Array.isArray(command) ? command : command?.split(/\s+/)).toEqual(['node', ...options, entry]);
      expect(existsSync(new URL(entry.replace('/dist/', '/src/').replace(/\.js$/, '.ts'), ROOT))).toBe(true);
    });

    it('is checked for health on its own port', () => {
      const test = service(name).healthcheck?.test;
      const text = Array.isArray(test) ? test.join(' ') : (test ?? '');
      const path = name === 'gateway' ? '/readyz' : '/healthz';
      expect(text).toContain(`https://127.0.0.1:${portOf(name)}${path}`);
    });
  });

  it('publishes the gateway’s port 4000 and nothing else', () => {
    expect(portOf('gateway')).toBe(4000);
    expect(service('gateway').ports?.map(String)).toEqual(['4000:4000']);
    for (const name of Object.keys(compose.services ?? {}).filter((n) => n !== 'gateway')) {
      expect(service(name).ports, `${name} publishes a port`).toBeUndefined();
    }
  });

  it('starts each service once what it needs is healthy', () => {
    const dependencies = (name: string): Record<string, string | undefined> => {
      const dependsOn = service(name).depends_on ?? {};
      if (Array.isArray(dependsOn)) return Object.fromEntries(dependsOn.map((d) => [d, undefined]));
      return Object.fromEntries(Object.entries(dependsOn).map(([d, { condition }]) => [d, condition]));
    };
    for (const subgraph of SUBGRAPHS) {
      expect(dependencies(subgraph)).toMatchObject({ pki: 'service_healthy', postgres: 'service_healthy' });
    }
    expect(dependencies('gateway')).toEqual(
      Object.fromEntries(['pki', 'redis', ...SUBGRAPHS].map((dependency) => [dependency, 'service_healthy'])),
    );
    expect(service('postgres').healthcheck?.test?.toString()).toContain('pg_isready');
    expect(service('redis').healthcheck?.test?.toString()).toContain('redis-cli');
  });

  describe('databases', () => {
    const databases = () => SUBGRAPHS.map((name) => ({ name, ...databaseOf(name) }));

    it('gives every subgraph its own database on the postgres service', () => {
      for (const { name, user, host, port, database } of databases()) {
        expect({ host, port }, name).toEqual({ host: 'postgres', port: '5432' });
        expect({ user, database }, `${name} connects as its own role to its own database`).toEqual({
          user: name,
          database: name,
        });
      }
    });

    it('shares no database user, password variable or database name between services', () => {
      const all = databases();
      for (const field of ['user', 'passwordVariable', 'database'] as const) {
        const values = all.map((database) => database[field]);
        expect(new Set(values).size, `${field}: ${values.join(', ')}`).toBe(all.length);
      }
      const keyVariables = KEY_PAIRS.flatMap(([one, other]) =>
        [one, other].map((fullName) => {
          const owner = SERVICE_NAMES.find((name) => fullName.startsWith(SERVICES[name].prefix))!;
          return requiredReference(variable(owner, fullName), fullName);
        }),
      );
      const postgresPassword = environmentOf('postgres').POSTGRES_PASSWORD ?? '';
      for (const { passwordVariable } of all) {
        expect(keyVariables).not.toContain(passwordVariable);
        expect(referencesIn(postgresPassword).map((r) => r.name)).not.toContain(passwordVariable);
      }
    });

    it('passes each role’s password to the postgres service under the name the init script reads', () => {
      const environment = environmentOf('postgres');
      expect(referencesIn(environment.POSTGRES_PASSWORD ?? '')).toMatchObject([{ operator: ':?' }]);
      for (const { name, passwordVariable } of databases()) {
        const initName = `${name.toUpperCase()}_DB_PASSWORD`;
        const given = environment[initName];
        expect(given, `postgres does not receive ${initName}`).toBeDefined();
        expect(requiredReference(given!, `postgres's ${initName}`)).toBe(passwordVariable);
      }
    });

    it('mounts the init script where PostgreSQL runs it on first start', () => {
      const volumes = (service('postgres').volumes ?? [])
        .filter((volume): volume is string => typeof volume === 'string')
        .map((volume) => volume.split(':'));
      expect(volumes).toContainEqual([
        './deploy/postgres/init.sh',
        expect.stringMatching(/^\/docker-entrypoint-initdb\.d\/[^/]+\.sh$/),
        'ro',
      ]);
    });
  });

  describe('keys', () => {
    it('covers every key the services declare with a pair', () => {
      const declared = SERVICE_NAMES.flatMap((name) =>
        Object.keys(SERVICES[name].spec)
          .filter((key) => key.startsWith('KEY_'))
          .map((key) => SERVICES[name].prefix + key),
      );
      expect(declared.sort()).toEqual(KEY_PAIRS.flat().sort());
    });

    it('gives both ends of each pair the same secret and no two pairs the same one', () => {
      const secrets = KEY_PAIRS.map(([one, other]) => {
        const [oneService, otherService] = [one, other].map((fullName) =>
          SERVICE_NAMES.find((name) => fullName.startsWith(SERVICES[name].prefix))!,
        );
        const oneSecret = requiredReference(variable(oneService!, one), one);
        const otherSecret = requiredReference(variable(otherService!, other), other);
        expect(otherSecret, `${one} and ${other}`).toBe(oneSecret);
        return oneSecret;
      });
      expect(new Set(secrets).size, secrets.join(', ')).toBe(KEY_PAIRS.length);
    });

    it('leaves each pair’s ends holding the same key once resolved, and every other pair a different one', () => {
      const keys = KEY_PAIRS.map(([one, other]) =>
        [one, other].map((fullName) => {
          const name = SERVICE_NAMES.find((candidate) => fullName.startsWith(SERVICES[candidate].prefix))!;
          const { prefix, spec } = SERVICES[name];
          const config = loadConfig(spec, prefix, resolvedEnvironment(name)) as Record<string, unknown>;
          return (config[fullName.slice(prefix.length)] as Buffer).toString('hex');
        }),
      );
      for (const [one, other] of keys) expect(other).toBe(one);
      expect(new Set(keys.map(([one]) => one)).size).toBe(KEY_PAIRS.length);
    });
  });

  it('gives aaa and the gateway the same access-token key ring', () => {
    expect(requiredReference(variable('gateway', 'GATEWAY_TOKEN_KEYS'), 'GATEWAY_TOKEN_KEYS')).toBe(
      requiredReference(variable('aaa', 'AAA_TOKEN_KEYS'), 'AAA_TOKEN_KEYS'),
    );
  });

  describe('service URLs', () => {
    it('points every producer’s AUDIT_URL at the audit service', () => {
      const producers = SERVICE_NAMES.filter(
        (name) => name !== 'gateway' && 'AUDIT_URL' in SERVICES[name].spec,
      );
      expect(producers.sort()).toEqual(['aaa', 'billing', 'devices']);
      for (const name of producers) {
        const url = new URL(variable(name, `${SERVICES[name].prefix}AUDIT_URL`));
        expect({ protocol: url.protocol, host: url.hostname, port: Number(url.port) }, name).toEqual({
          protocol: 'https:',
          host: 'audit',
          port: portOf('audit'),
        });
      }
    });

    it('points billing and devices at each other, for entitlements', () => {
      for (const [name, variableName, peer] of [
        ['billing', 'BILLING_DEVICES_URL', 'devices'],
        ['devices', 'DEVICES_BILLING_URL', 'billing'],
      ] as const) {
        const url = new URL(variable(name, variableName));
        expect({ protocol: url.protocol, host: url.hostname, port: Number(url.port) }, name).toEqual({
          protocol: 'https:',
          host: peer,
          port: portOf(peer),
        });
      }
    });

    it('points the gateway at each subgraph’s GraphQL endpoint', () => {
      for (const subgraph of SUBGRAPHS) {
        const url = new URL(variable('gateway', `GATEWAY_${subgraph.toUpperCase()}_URL`));
        expect(
          { protocol: url.protocol, host: url.hostname, port: Number(url.port), path: url.pathname },
          subgraph,
        ).toEqual({
          protocol: 'https:',
          host: subgraph,
          port: portOf(subgraph),
          path: '/graphql',
        });
      }
    });
  });

  describe('mutual TLS', () => {
    const pki = () => service('pki');
    const commandOf = (name: string): string[] => {
      const { command } = service(name);
      return Array.isArray(command) ? command : (command?.split(/\s+/) ?? []);
    };
    const optionOf = (name: string, option: string): string => {
      const command = commandOf(name);
      const value = command[command.indexOf(option) + 1];
      expect(command, `${name}'s command`).toContain(option);
      return value!;
    };
    const longVolumes = (name: string): LongVolume[] =>
      (service(name).volumes ?? []).filter((volume): volume is LongVolume => typeof volume !== 'string');
    const shortVolumes = (name: string): string[] =>
      (service(name).volumes ?? []).filter((volume): volume is string => typeof volume === 'string');
    /** The named volume a service mounts at a path. */
    const volumeAt = (name: string, target: string): string | undefined =>
      shortVolumes(name)
        .map((volume) => volume.split(':'))
        .find(([, path]) => path === target)?.[0] ??
      longVolumes(name).find((volume) => volume.target === target)?.source;
    const stateVolume = () => volumeAt('pki', optionOf('pki', '--state'));
    const publishedVolume = () => volumeAt('pki', optionOf('pki', '--out'));
    /** Where a service mounts its PKI directory, and which one. */
    const pkiMountOf = (name: string): LongVolume => {
      const mounts = [
        ...longVolumes(name).filter((volume) => volume.source === publishedVolume()),
        ...shortVolumes(name).filter((volume) => volume.split(':')[0] === publishedVolume()),
      ];
      expect(mounts, `${name} mounts the published PKI once`).toHaveLength(1);
      expect(typeof mounts[0], `${name} mounts it in the long syntax, with a subpath`).toBe('object');
      return mounts[0] as LongVolume;
    };
    const FILES = {
      MTLS_CERT_FILE: 'tls.crt',
      MTLS_KEY_FILE: 'tls.key',
      MTLS_CA_FILE: 'ca.crt',
    } as const;

    it('keeps the PKI in a service of its own, from the same image, that keeps watching for renewals', () => {
      expect(
        typeof pki().build === 'string' ? pki().build : (pki().build as { context?: string })?.context,
      ).toBe('.');
      const command = commandOf('pki');
      expect(command.slice(0, 2)).toEqual(['node', 'packages/launcher/dist/pki-cli.js']);
      expect(existsSync(new URL('packages/launcher/src/pki-cli.ts', ROOT))).toBe(true);
      expect(command).toContain('--watch');
      expect(pki().read_only).toBe(true);
      expect(pki().cap_drop).toEqual(['ALL']);
      expect(pki().user, 'the pki service writes files the services’ user can read').toBeUndefined();
      expect(pki().ports).toBeUndefined();
      const [state, published] = [stateVolume(), publishedVolume()];
      expect(state, 'the state directory is a named volume').toBeDefined();
      expect(published, 'the output directory is a named volume').toBeDefined();
      expect(state).not.toBe(published);
      expect(Object.keys(compose.volumes ?? {})).toEqual(expect.arrayContaining([state, published]));
      expect(pki().healthcheck?.test?.toString()).toContain(optionOf('pki', '--out'));
    });

    it('names 127.0.0.1 (where the gateway’s health is checked) and the public URL’s host on the edge certificate', () => {
      const command = commandOf('pki');
      const edgeNames = command.slice(command.indexOf('--out') + 2);
      expect(edgeNames).toContain('127.0.0.1');
      expect(edgeNames).toContain('${FLEET_PUBLIC_URL:-https://localhost:4000}');
      const enroll = referencesIn(variable('devices', 'DEVICES_ENROLL_URL'));
      expect(enroll).toEqual([
        { name: 'FLEET_PUBLIC_URL', operator: ':-', argument: 'https://localhost:4000' },
      ]);
    });

    it.each(SERVICE_NAMES)(
      '%s mounts its own PKI directory only, read-only, and reads its files there',
      (name) => {
        const mount = pkiMountOf(name);
        expect(mount).toMatchObject({ type: 'volume', read_only: true, volume: { subpath: name } });
        const { prefix } = SERVICES[name];
        const expected: Record<string, string> = Object.fromEntries(
          Object.entries(FILES).map(([key, file]) => [prefix + key, `${mount.target}/${file}`]),
        );
        if (name === 'gateway') {
          expected.GATEWAY_TLS_CERT_FILE = `${mount.target}/edge.crt`;
          expected.GATEWAY_TLS_KEY_FILE = `${mount.target}/edge.key`;
        }
        for (const [fullName, path] of Object.entries(expected))
          expect(variable(name, fullName), fullName).toBe(path);
        expect(environmentOf(name)[`${prefix}MTLS_DISABLED`], 'mutual TLS stays on').toBeUndefined();
        expect(environmentOf(name).GATEWAY_PLAINTEXT_HTTP, 'HTTPS stays on').toBeUndefined();
      },
    );

    it('mounts the authority’s state in the pki service alone, and the published files only by subpath', () => {
      for (const name of Object.keys(compose.services ?? {})) {
        const mounted = [
          ...shortVolumes(name).map((volume) => volume.split(':')[0]),
          ...longVolumes(name).map((volume) => volume.source),
        ];
        if (name === 'pki') continue;
        expect(mounted, `${name} mounts the PKI state`).not.toContain(stateVolume());
        if (!(SERVICE_NAMES as string[]).includes(name)) {
          expect(mounted, `${name} mounts published PKI files`).not.toContain(publishedVolume());
        }
      }
    });

    it('calls every other service at an https:// URL', () => {
      const names = Object.keys(compose.services ?? {});
      let urls = 0;
      for (const name of SERVICE_NAMES) {
        for (const [fullName, value] of Object.entries(environmentOf(name))) {
          const match = /^([a-z][a-z0-9+.-]*):\/\/(?:[^@/]*@)?([^:/?#@]+)/i.exec(value);
          if (!match || !names.includes(match[2]!) || ['postgres', 'redis'].includes(match[2]!)) continue;
          urls++;
          expect(match[1], `${name}'s ${fullName}`).toBe('https');
        }
      }
      // The gateway's four, three AUDIT_URLs, billing and devices both ways, audit's two restores.
      expect(urls).toBe(4 + 3 + 2 + 2);
    });

    describe('with the files the pki service publishes', () => {
      let dir: string;
      let out: string;
      beforeAll(() => {
        dir = mkdtempSync(join(tmpdir(), 'fleet-compose-pki-'));
        out = join(dir, 'out');
        const result = spawnSync(
          process.execPath,
          [
            fileURLToPath(new URL('packages/launcher/dist/pki-cli.js', ROOT)),
            '--state',
            join(dir, 'state'),
            '--out',
            out,
            ...commandOf('pki')
              .slice(commandOf('pki').indexOf('--out') + 2)
              .map((name) => name.replace(/^\$\{FLEET_PUBLIC_URL:-([^}]*)\}$/, '$1')),
          ],
          { encoding: 'utf8' },
        );
        expect(result.status, result.stderr).toBe(0);
      });
      afterAll(() => rmSync(dir, { recursive: true, force: true }));

      /** A path a service names, as the published file it reaches. */
      const published = (name: ServiceName, path: string): string => {
        const mount = pkiMountOf(name);
        expect(path.startsWith(`${mount.target}/`), path).toBe(true);
        return join(out, mount.volume!.subpath!, path.slice(mount.target!.length + 1));
      };

      it.each(SERVICE_NAMES)('gives %s its own certificate and key, and no other service’s key', (name) => {
        const { prefix } = SERVICES[name];
        const certificate = new X509Certificate(
          readFileSync(published(name, variable(name, `${prefix}MTLS_CERT_FILE`))),
        );
        const key = createPrivateKey(readFileSync(published(name, variable(name, `${prefix}MTLS_KEY_FILE`))));
        expect(certificate.subjectAltName).toContain(`URI:urn:fleet:service:${name}`);
        expect(certificate.checkPrivateKey(key)).toBe(true);
        const authority = new X509Certificate(
          readFileSync(published(name, variable(name, `${prefix}MTLS_CA_FILE`))),
        );
        expect(certificate.verify(authority.publicKey)).toBe(true);
        const mounted = join(out, pkiMountOf(name).volume!.subpath!);
        const foreignKeys = [
          'ca.key',
          ...SERVICE_NAMES.filter((other) => other !== name).map((other) => `${other}.key`),
        ].map((file) => readFileSync(join(dir, 'state', file), 'utf8'));
        for (const file of readdirSync(mounted)) {
          expect(foreignKeys, `${name} sees ${file}`).not.toContain(
            readFileSync(join(mounted, file), 'utf8'),
          );
        }
      });

      /** Runs a healthcheck's script against a server on a free port, the service's paths rewritten. */
      const runHealthcheck = async (name: ServiceName, server: Server): Promise<number | null> => {
        const test = service(name).healthcheck?.test;
        expect(Array.isArray(test) && test.slice(0, 3)).toEqual(['CMD', 'node', '-e']);
        const target = pkiMountOf(name).target!;
        const script = (test as string[])[3]!
          .replaceAll(`127.0.0.1:${portOf(name)}`, `127.0.0.1:${(server.address() as AddressInfo).port}`)
          .replaceAll(`${target}/`, `${join(out, name)}/`);
        const child = spawn(process.execPath, ['-e', script], { stdio: 'ignore' });
        return new Promise((done) => child.once('exit', (code) => done(code)));
      };
      const listen = async (server: Server): Promise<Server> => {
        await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
        return server;
      };

      it.each(SUBGRAPHS)(
        'checks %s’s health over mutual TLS with its own certificate, verifying the server’s',
        async (name) => {
          const own = (file: string) => readFileSync(join(out, name, file));
          const server = await listen(
            createHttpsServer(
              {
                cert: own('tls.crt'),
                key: own('tls.key'),
                ca: own('ca.crt'),
                requestCert: true,
                rejectUnauthorized: true,
              },
              (request, response) => {
                const peer = (request.socket as TLSSocket).getPeerCertificate();
                const self = peer.subjectaltname?.includes(`URI:urn:fleet:service:${name}`);
                response.writeHead(request.url === '/healthz' && self ? 200 : 403).end();
              },
            ),
          );
          try {
            expect(await runHealthcheck(name, server)).toBe(0);
          } finally {
            server.close();
          }
          // A server of another authority fails the check.
          const other = mkdtempSync(join(tmpdir(), 'fleet-compose-other-'));
          try {
            spawnSync(process.execPath, [
              fileURLToPath(new URL('packages/launcher/dist/pki-cli.js', ROOT)),
              '--state',
              join(other, 'state'),
              '--out',
              join(other, 'out'),
            ]);
            const foreign = (file: string) => readFileSync(join(other, 'out', name, file));
            const impostor = await listen(
              createHttpsServer({ cert: foreign('tls.crt'), key: foreign('tls.key') }, (_request, response) =>
                response.writeHead(200).end(),
              ),
            );
            try {
              expect(await runHealthcheck(name, impostor)).toBe(1);
            } finally {
              impostor.close();
            }
          } finally {
            rmSync(other, { recursive: true, force: true });
          }
        },
      );

      it('checks the gateway’s readiness over HTTPS, trusting the authority of its edge certificate', async () => {
        const edge = (file: string) => readFileSync(join(out, 'gateway', file));
        const server = await listen(
          createHttpsServer({ cert: edge('edge.crt'), key: edge('edge.key') }, (request, response) =>
            response.writeHead(request.url === '/readyz' ? 200 : 404).end(),
          ),
        );
        try {
          expect(await runHealthcheck('gateway', server)).toBe(0);
        } finally {
          server.close();
        }
        const notReady = await listen(
          createHttpsServer({ cert: edge('edge.crt'), key: edge('edge.key') }, (_q, r) =>
            r.writeHead(503).end(),
          ),
        );
        try {
          expect(await runHealthcheck('gateway', notReady)).toBe(1);
        } finally {
          notReady.close();
        }
      });
    });
  });
});

describe('deploy/postgres/init.sh', () => {
  it('stops at the first error', () => {
    expect(initScript).toMatch(/^#!\/usr\/bin\/env bash\n/);
    expect(initScript).toMatch(/^set -euo pipefail$/m);
  });

  it('creates a database and a role for each subgraph', () => {
    const services = /^SERVICES=\(([^)]*)\)$/m.exec(initScript)?.[1]?.trim().split(/\s+/);
    expect(services?.sort()).toEqual([...SUBGRAPHS].sort());
    expect(initScript).toMatch(/CREATE ROLE :"name" LOGIN\b[^;]*PASSWORD :'password';/);
    expect(initScript).toMatch(/CREATE DATABASE :"name" OWNER :"name";/);
    expect(initScript).toMatch(/REVOKE CONNECT\b[^;]* ON DATABASE :"name" FROM PUBLIC;/);
  });

  describe('run against a stand-in psql', () => {
    const run = (environment: Record<string, string>) => {
      const dir = mkdtempSync(join(tmpdir(), 'fleet-init-sh-'));
      try {
        const log = join(dir, 'calls.log');
        const psql = join(dir, 'psql');
        writeFileSync(
          psql,
          [
            '#!/usr/bin/env bash',
            `{ printf 'ARG %s\\n' "$@"; printf 'SQL\\n'; cat; printf 'END\\n'; } >> ${JSON.stringify(log)}`,
            '',
          ].join('\n'),
        );
        chmodSync(psql, 0o755);
        const result = spawnSync('bash', [INIT_SCRIPT_PATH], {
          encoding: 'utf8',
          env: { PATH: `${dir}:${process.env.PATH ?? ''}`, POSTGRES_USER: 'postgres', ...environment },
        });
        const calls = existsSync(log)
          ? readFileSync(log, 'utf8')
              .split(/^END\n/m)
              .filter((call) => call.trim() !== '')
              .map((call) => {
                const [args = '', sql = ''] = call.split(/^SQL\n/m);
                return {
                  args: args.split('\n').flatMap((line) => (line.startsWith('ARG ') ? [line.slice(4)] : [])),
                  sql,
                };
              })
          : [];
        return { status: result.status, stderr: result.stderr, calls };
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    };
    const passwords = Object.fromEntries(
      SUBGRAPHS.map((name) => [`${name.toUpperCase()}_DB_PASSWORD`, `pw '${name}"; DROP ROLE postgres; --`]),
    );

    it('gives each role its own password through psql variables, never through the SQL text', () => {
      const { status, calls } = run(passwords);
      expect(status).toBe(0);
      expect(calls.map(({ args }) => args.find((arg) => arg.startsWith('name=')))).toEqual(
        SUBGRAPHS.map((name) => `name=${name}`),
      );
      for (const [i, name] of SUBGRAPHS.entries()) {
        const { args, sql } = calls[i]!;
        expect(args).toContain(`password=${passwords[`${name.toUpperCase()}_DB_PASSWORD`]}`);
        expect(args).toContain('ON_ERROR_STOP=1');
        expect(sql).not.toContain('DROP ROLE');
        expect(sql).toContain('CREATE DATABASE :"name" OWNER :"name"');
      }
    });

    it('creates nothing when a role’s password is missing', () => {
      const { status, stderr, calls } = run({ ...passwords, BILLING_DB_PASSWORD: '' });
      expect(status).not.toBe(0);
      expect(stderr).toContain('BILLING_DB_PASSWORD');
      expect(calls).toEqual([]);
    });
  });
});
