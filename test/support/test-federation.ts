import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CertificateDirectory,
  startFederation,
  SUBGRAPH_NAMES,
  type Federation,
  type ServiceName,
} from '@fleet/launcher';
import type { Secrets } from '@fleet/launcher';
import { Agent, fetch as undiciFetch, type RequestInfo, type RequestInit, type Response } from 'undici';
import { createLogger, type MutualTls } from '@fleet/service-kit';
import { createServiceDatabases, type ServiceDatabase } from './postgres.js';
import type { SubgraphName } from '@fleet/launcher';
import { removeScratchDirectory } from './scratch-directory.js';

export type Engine = 'pglite' | 'postgres';

export interface TestFederation extends Federation {
  readonly engine: Engine;
  readonly dataDir: string;
  /** The keys the launcher generated for this federation. */
  readonly secrets: Secrets;
  /** Each subgraph's PostgreSQL database, on the PostgreSQL engine. */
  readonly databases: Partial<Record<SubgraphName, ServiceDatabase>>;
  url(service: ServiceName): string;
  /** The authority the gateway's certificate chains to (PEM): what its clients trust. */
  readonly ca: string;
  /** `fetch` as a client of the gateway that trusts its certificate. */
  readonly fetch: (input: RequestInfo, init?: RequestInit) => Promise<Response>;
  /** A service's side of mutual TLS with this federation's certificates, to call a subgraph as it. */
  serviceTls(service: ServiceName): MutualTls;
  /**
   * The certificate variables of a service of this federation, for one more process of it that a
   * test starts itself: its mutual TLS, and for the gateway its edge certificate as well.
   */
  tlsEnv(service: ServiceName): Record<string, string>;
  /** POSTs a GraphQL operation to the gateway, anonymously unless the headers carry credentials. */
  readonly graphql: <T = Record<string, unknown>>(
    query: string,
    variables?: Record<string, unknown>,
    headers?: Record<string, string>,
  ) => Promise<GraphQLResult<T>>;
  /** POSTs a GraphQL operation as the first platform administrator. */
  asAdmin<T = Record<string, unknown>>(
    query: string,
    variables?: Record<string, unknown>,
    headers?: Record<string, string>,
  ): Promise<GraphQLResult<T>>;
  /** The platform administrator's credentials (activated by the test support on first start). */
  readonly admin: { email: string; password: string };
  /** Stops everything and deletes the data it made. */
  destroy(): Promise<void>;
}

export interface GraphQLResult<T> {
  status: number;
  data?: T | null;
  errors?: { message: string; path?: string[]; extensions?: Record<string, unknown> }[];
}

export interface TestFederationOptions {
  engine: Engine;
  /** Keep using this data directory (e.g. to restart on the same data). */
  dataDir?: string;
  databases?: Partial<Record<SubgraphName, ServiceDatabase>>;
  overrides?: Partial<Record<ServiceName, Record<string, string>>>;
  /** Ports to use instead of free ones picked at start. */
  ports?: Partial<Record<ServiceName, number>>;
}

/** Test-friendly settings: events ship quickly once audit is back. */
const TEST_OVERRIDES: Partial<Record<ServiceName, Record<string, string>>> = {
  // Every test signs in from the same address, far more often than a person would; the tests of
  // the rate limits themselves set their own budgets. Every plan's tier is listed, so that none
  // falls back to the default with a warning.
  gateway: {
    GATEWAY_RATE_LIMIT_SIGN_IN_REQUESTS: '100000',
    GATEWAY_RATE_LIMIT_ADDRESS_REQUESTS: '1000000',
    GATEWAY_RATE_LIMIT_TIERS: ['free', 'standard', 'enterprise']
      .map((tier) => `${tier}=100000000/100000000/100000000`)
      .join(','),
  },
  aaa: { AAA_OUTBOX_MAX_BACKOFF_MS: '500' },
  devices: { DEVICES_OUTBOX_MAX_BACKOFF_MS: '500' },
  billing: { BILLING_OUTBOX_MAX_BACKOFF_MS: '500' },
};

/**
 * The real federation, as `npm start` runs it: five processes, on free ports, with fresh embedded
 * databases in a temporary directory, or each subgraph in its own new PostgreSQL database.
 */
export async function startTestFederation(options: TestFederationOptions): Promise<TestFederation> {
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'fleet-test-')));
  let databases = options.databases ?? {};
  let dropDatabases = async (): Promise<void> => {};
  if (options.engine === 'postgres' && !options.databases) {
    const created = await createServiceDatabases(SUBGRAPH_NAMES);
    databases = created.databases;
    dropDatabases = created.drop;
  }
  const overrides: Partial<Record<ServiceName, Record<string, string>>> = {};
  for (const service of ['gateway', ...SUBGRAPH_NAMES] as const) {
    const database = service === 'gateway' ? undefined : databases[service];
    overrides[service] = {
      ...TEST_OVERRIDES[service],
      ...(database ? { [`${service.toUpperCase()}_DATABASE_URL`]: database.url } : {}),
      ...options.overrides?.[service],
    };
  }
  let federation: Federation;
  try {
    federation = await startFederation({
      dataDir,
      env: {},
      ports: { gateway: 0, aaa: 0, devices: 0, billing: 0, audit: 0, ...options.ports },
      overrides,
      output: 'capture',
    });
  } catch (error) {
    await dropDatabases();
    if (!options.dataDir) await removeScratchDirectory(dataDir);
    throw error;
  }
  const secrets = JSON.parse(readFileSync(join(dataDir, 'secrets.json'), 'utf8')) as Secrets;
  const ca = readFileSync(federation.caFile, 'utf8');
  const agent = new Agent({ connect: { ca } });
  const fetch = (input: RequestInfo, init: RequestInit = {}) =>
    undiciFetch(input, { ...init, dispatcher: agent });
  const certificates = new CertificateDirectory(join(dataDir, 'pki'));
  const tlsLogger = createLogger({ service: 'test', level: 'silent' });
  const sides = new Map<ServiceName, MutualTls>();
  const serviceTls = (service: ServiceName): MutualTls => {
    let side = sides.get(service);
    if (!side) {
      side = certificates.mutualTls(service, tlsLogger);
      sides.set(service, side);
    }
    return side;
  };
  const release = async (): Promise<void> => {
    await agent.close();
    await Promise.all([...sides.values()].map((side) => side.close()));
  };
  const graphql = async <T>(
    query: string,
    variables?: Record<string, unknown>,
    headers: Record<string, string> = {},
  ): Promise<GraphQLResult<T>> => {
    const response = await fetch(federation.gatewayUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await response.json()) as Omit<GraphQLResult<T>, 'status'>;
    return { status: response.status, ...body };
  };
  let admin: { email: string; password: string };
  try {
    admin = await activateAdmin(federation, dataDir, graphql);
  } catch (error) {
    await federation.stop();
    await release();
    await dropDatabases();
    if (!options.dataDir) await removeScratchDirectory(dataDir);
    throw error;
  }
  let adminToken: { token: string; expires: number } | undefined;
  const asAdmin = async <T>(
    query: string,
    variables?: Record<string, unknown>,
    headers: Record<string, string> = {},
  ): Promise<GraphQLResult<T>> => {
    if (!adminToken || adminToken.expires < Date.now() + 60_000) {
      const token = await login(graphql, { tenant: 'platform', ...admin });
      adminToken = { token: token.accessToken, expires: Date.parse(token.accessTokenExpiresAt) };
    }
    return graphql<T>(query, variables, { ...headers, authorization: `Bearer ${adminToken.token}` });
  };
  return {
    ...federation,
    gatewayUrl: federation.gatewayUrl,
    engine: options.engine,
    dataDir,
    secrets,
    databases,
    ca,
    fetch,
    serviceTls,
    tlsEnv: (service) => certificates.variables(service),
    graphql,
    asAdmin,
    admin,
    async destroy() {
      await federation.stop();
      await release();
      await dropDatabases();
      if (!options.dataDir) await removeScratchDirectory(dataDir);
    },
  };
}

/** Creates a tenant through the gateway; returns its id. */
export async function createTenant(fleet: TestFederation, name: string, slug: string): Promise<string> {
  const created = await fleet.asAdmin<{ createTenant: { id: string } }>(
    'mutation($name: String!, $slug: String!) { createTenant(input: { name: $name, slug: $slug }) { id } }',
    { name, slug },
  );
  if (!created.data) throw new Error(`could not create tenant ${slug}: ${JSON.stringify(created.errors)}`);
  return created.data.createTenant.id;
}

/**
 * Puts a tenant on a plan through the gateway, as a platform administrator would: a tenant that
 * will have more devices than the free plan allows needs a larger one.
 */
export async function choosePlan(fleet: TestFederation, tenantId: string, planId: string): Promise<void> {
  const changed = await fleet.asAdmin<{ changeTenantPlan: { id: string } }>(
    'mutation($t: ID!, $p: ID!) { changeTenantPlan(tenantId: $t, planId: $p) { id } }',
    { t: tenantId, p: planId },
  );
  if (!changed.data)
    throw new Error(`could not put tenant ${tenantId} on ${planId}: ${JSON.stringify(changed.errors)}`);
}

export interface TokenPairResult {
  accessToken: string;
  accessTokenExpiresAt: string;
  refreshToken: string;
  sessionId: string;
  restrictedTo: string[] | null;
}

type GraphQLCall = <T>(
  query: string,
  variables?: Record<string, unknown>,
  headers?: Record<string, string>,
) => Promise<GraphQLResult<T>>;

const LOGIN = `mutation($input: LoginInput!) {
  login(input: $input) { accessToken accessTokenExpiresAt refreshToken sessionId restrictedTo }
}`;

/** Logs in through the gateway; throws with the errors when it fails. */
export async function login(
  graphql: GraphQLCall,
  input: { tenant: string; email: string; password: string; totp?: string; recoveryCode?: string },
): Promise<TokenPairResult> {
  const result = await graphql<{ login: TokenPairResult }>(LOGIN, { input });
  if (!result.data?.login) throw new Error(`login failed: ${JSON.stringify(result.errors)}`);
  return result.data.login;
}

/**
 * Activates the first platform administrator with a password of the test's choosing, the way an
 * operator would after `npm start`; on a restart, reads back the password chosen then.
 */
async function activateAdmin(
  federation: Federation,
  dataDir: string,
  graphql: GraphQLCall,
): Promise<{ email: string; password: string }> {
  const file = join(dataDir, 'test-admin.json');
  const initial = federation.initialAdmin;
  if (!initial) return JSON.parse(readFileSync(file, 'utf8')) as { email: string; password: string };
  const admin = { email: initial.email, password: `Fleet test ${randomBytes(12).toString('base64url')}` };
  const activated = await graphql<{ activateAccount: boolean }>(
    'mutation($input: ActivateAccountInput!) { activateAccount(input: $input) }',
    {
      input: {
        tenant: initial.tenant,
        email: initial.email,
        code: initial.activationCode,
        password: admin.password,
      },
    },
  );
  if (!activated.data?.activateAccount) {
    throw new Error(`could not activate the first administrator: ${JSON.stringify(activated.errors)}`);
  }
  writeFileSync(file, JSON.stringify(admin), { mode: 0o600 });
  return admin;
}

/** Polls `check` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(
  check: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const detail = lastError instanceof Error ? `: ${lastError.message}` : '';
  throw new Error(`Condition not met within ${timeoutMs} ms${detail}`);
}

/**
 * The engines the system suites run on: the embedded one always, PostgreSQL when the suite is
 * enabled. A disabled engine stays in the list so its suites show as skipped.
 */
export async function engineMatrix(): Promise<{ engine: Engine; enabled: boolean }[]> {
  const { postgresSuiteEnabled } = await import('./postgres.js');
  return [
    { engine: 'pglite', enabled: true },
    { engine: 'postgres', enabled: await postgresSuiteEnabled() },
  ];
}
