import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSubgraphSchema } from '@apollo/subgraph';
import {
  graphql,
  isIntrospectionType,
  isObjectType,
  parse,
  type ExecutionResult,
  type GraphQLSchema,
} from 'graphql';
import { applyMiddleware } from 'graphql-middleware';
import type { IRules } from 'graphql-shield';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ANONYMOUS,
  createLogger,
  openDatabase,
  type Database,
  type Principal,
  type SignedRequest,
} from '@fleet/service-kit';
import { migrations } from '../database/migrations.js';
import type { DevicesDatabase } from '../database/schema.js';
import { createLocalKeyProvider } from '@fleet/envelope';
import { startSimulator, type Simulator } from '@fleet/routeros-sim';
import { CredentialVault } from '../credentials/credential-vault.js';
import { Enrollments } from '../enrollment/enrollments.js';
import { DeviceRegistry } from '../registry/device-registry.js';
import { TenantEntitlements } from '../entitlements/tenant-entitlements.js';
import { RouterNetworks } from '../routers/router-networks.js';
import { TemplateStore } from '../templates/template-store.js';
import { Provisioning } from '../provisioning/provisioning.js';
import { Backups } from '../backups/backups.js';
import { BackupStore } from '../backups/backup-store.js';
import { DriftChecks } from '../drift/drift-checks.js';
import { DriftStore } from '../drift/drift-store.js';
import { JobStore } from '../provisioning/job-store.js';
import { RolloutStore } from '../rollouts/rollout-store.js';
import { resolvers, type DevicesContext } from '../resolvers.js';
import { MemoryEventBus } from '../status/event-bus/memory-event-bus.js';
import { LiveStatus } from '../status/live-status.js';
import { statusLoader, StatusStore } from '../status/status-store.js';
import { permissions, rules } from './permissions.js';

/**
 * The devices subgraph's own authorization, on its real schema and resolvers over a real (PGlite)
 * database: each principal reaches exactly what its scopes in its tenant allow, and nothing the
 * rules do not name.
 */

const logger = createLogger({ service: 'test', level: 'silent' });
const typeDefs = parse(readFileSync(new URL('../../schema.graphql', import.meta.url), 'utf8'));

const tenantA = randomUUID();
const tenantB = randomUUID();

function user(tenantId: string | null, scopes: string[]): Principal {
  return { kind: 'user', userId: randomUUID(), tenantId, roles: [], scopes, sessionId: randomUUID() };
}

function apiKey(tenantId: string, scopes: string[]): Principal {
  return { kind: 'apiKey', keyId: randomUUID(), tenantId, scopes };
}

const viewerA = user(tenantA, ['tenant:read', 'devices:read']);
const operatorA = user(tenantA, ['tenant:read', 'devices:read', 'devices:write']);
const platformReader = user(randomUUID(), ['platform:read', 'tenant:read', 'members:read', 'devices:read']);
const platformAdmin = user(randomUUID(), ['platform:admin']);
const readerKeyB = apiKey(tenantB, ['devices:read']);
const writerKeyB = apiKey(tenantB, ['devices:read', 'devices:write']);

const DEVICE = 'query($id: ID!) { device(id: $id) { id name tenant { id } } }';
const DEVICES = 'query($t: ID!) { devices(tenantId: $t) { id tenant { id } } }';
const CREATE = `mutation($t: ID!, $n: String!, $h: String!, $p: Int!, $f: String!) {
  createDevice(input: { tenantId: $t, name: $n, host: $h, port: $p, username: "admin", password: "admin",
    tls: { mode: PINNED, fingerprint: $f } }) { id tenant { id } } }`;
const TENANT_DEVICES =
  'query($t: ID!) { _entities(representations: [{ __typename: "Tenant", id: $t }]) { ... on Tenant { id devices { id } } } }';
const TENANT_KEY =
  'query($t: ID!) { _entities(representations: [{ __typename: "Tenant", id: $t }]) { ... on Tenant { id } } }';
const DEVICE_ENTITY =
  'query($id: ID!) { _entities(representations: [{ __typename: "Device", id: $id }]) { ... on Device { id name } } }';

/** Every error is the shield's refusal. */
function expectForbidden(result: ExecutionResult): void {
  expect(result.errors?.length, JSON.stringify(result)).toBeGreaterThan(0);
  for (const error of result.errors ?? []) expect(error.extensions.code).toBe('FORBIDDEN');
}

function expectAllowed(result: ExecutionResult): void {
  expect(result.errors, JSON.stringify(result.errors)).toBeUndefined();
}

/** The `Type.field`s of the schema that the rule map covers neither by field, nor by '*', nor by type. */
function uncoveredFields(schema: GraphQLSchema, ruleMap: IRules): string[] {
  const byType = ruleMap as Record<string, unknown>;
  const missing: string[] = [];
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || isIntrospectionType(type)) continue;
    const entry = byType[type.name];
    const fieldMap = Object.getPrototypeOf(entry) === Object.prototype ? (entry as object) : undefined;
    for (const field of Object.keys(type.getFields())) {
      const covered = fieldMap ? field in fieldMap || '*' in fieldMap : entry !== undefined;
      if (!covered) missing.push(`${type.name}.${field}`);
    }
  }
  return missing;
}

describe('the devices permissions', () => {
  let dir: string;
  let database: Database<DevicesDatabase>;
  let registry: DeviceRegistry;
  let enrollments: Enrollments;
  let templates: TemplateStore;
  let routers: Simulator;
  /** The simulated router every device here is enrolled from: CREATE's $h, $p and $f. */
  let router: { h: string; p: number; f: string };
  let schema: GraphQLSchema;
  let deviceA: string;
  let deviceB: string;

  /** Executes an operation as the principal, with a fresh context (shield caches per context). */
  const run = (principal: Principal, source: string, variableValues: Record<string, unknown> = {}) => {
    const request: SignedRequest = {
      caller: 'gateway',
      principal,
      requestId: randomUUID(),
      clientAddress: '',
      logger,
    };
    const jobs = new JobStore(database.db, { devices: registry, templates, onEvent: () => undefined });
    const contextValue: DevicesContext = {
      devices: registry,
      enrollments,
      templates,
      provisioning: new Provisioning(registry, templates),
      jobs,
      live: new LiveStatus({ bus: new MemoryEventBus(), devices: registry, jobs, buffer: 10 }),
      statusOf: statusLoader(new StatusStore(database.db)),
      rollouts: new RolloutStore(database.db, {
        devices: registry,
        templates,
        jobs,
        onEvent: () => undefined,
      }),
      backups: new Backups({
        store: new BackupStore(database.db, { keep: 10, onEvent: () => undefined }),
        devices: registry,
        logger,
      }),
      drift: new DriftChecks({
        store: new DriftStore(database.db, { intervalSeconds: 60, onEvent: () => undefined }),
        devices: registry,
        templates,
        logger,
      }),
      request,
    };
    return graphql({ schema, source, variableValues: { ...router, ...variableValues }, contextValue });
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'devices-permissions-'));
    database = await openDatabase<DevicesDatabase>({ url: undefined, dataDir: dir, migrations, logger });
    routers = await startSimulator({ routers: 1 });
    const entry = routers.inventory()[0]!;
    router = { h: entry.host, p: entry.tlsPort, f: entry.fingerprint256 };
    const parts = {
      vault: new CredentialVault(
        database.db,
        await createLocalKeyProvider({ keyFile: join(dir, 'master.key') }),
        { ttlMs: 60_000, maxEntries: 100 },
      ),
      networks: new RouterNetworks('127.0.0.0/8'),
      timeouts: { connectTimeoutMs: 5_000, callTimeoutMs: 5_000 },
      onEvent: () => undefined,
    };
    registry = new DeviceRegistry(database.db, {
      ...parts,
      quotas: new TenantEntitlements(database.db, { defaultQuota: 100 }),
    });
    templates = new TemplateStore(database.db, () => undefined);
    enrollments = new Enrollments(database.db, {
      ...parts,
      registry,
      enrollUrl: 'http://127.0.0.1:4000/enroll',
    });
    const enroll = (tenantId: string, name: string) =>
      registry.create(
        {
          tenantId,
          name,
          host: entry.host,
          port: entry.tlsPort,
          username: entry.username,
          password: entry.password,
          tls: { mode: 'PINNED', fingerprint: entry.fingerprint256 },
        },
        platformAdmin,
      );
    schema = applyMiddleware(buildSubgraphSchema([{ typeDefs, resolvers }]), permissions);
    deviceA = (await enroll(tenantA, 'a-1')).id;
    deviceB = (await enroll(tenantB, 'b-1')).id;
  });

  afterAll(async () => {
    await routers?.close();
    await database?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses anonymous callers everything but _service', async () => {
    const service = await run(ANONYMOUS, '{ _service { sdl } }');
    expectAllowed(service);
    expect(service.data).toEqual({ _service: { sdl: expect.stringContaining('type Device') } });
    expectForbidden(await run(ANONYMOUS, DEVICE, { id: deviceA }));
    expectForbidden(await run(ANONYMOUS, DEVICES, { t: tenantA }));
    expectForbidden(await run(ANONYMOUS, CREATE, { t: tenantA, n: 'anon' }));
    expectForbidden(await run(ANONYMOUS, TENANT_KEY, { t: tenantA }));
    expectForbidden(await run(ANONYMOUS, TENANT_DEVICES, { t: tenantA }));
    expectForbidden(await run(ANONYMOUS, DEVICE_ENTITY, { id: deviceA }));
  });

  it("lets a viewer read its own tenant's devices, and nothing of another tenant", async () => {
    const own = await run(viewerA, DEVICES, { t: tenantA });
    expectAllowed(own);
    expect(own.data).toEqual({ devices: [{ id: deviceA, tenant: { id: tenantA } }] });
    const one = await run(viewerA, DEVICE, { id: deviceA });
    expectAllowed(one);
    expect(one.data).toEqual({ device: { id: deviceA, name: 'a-1', tenant: { id: tenantA } } });
    expectAllowed(await run(viewerA, TENANT_DEVICES, { t: tenantA }));
    expectAllowed(await run(viewerA, DEVICE_ENTITY, { id: deviceA }));

    expectForbidden(await run(viewerA, DEVICES, { t: tenantB }));
    // Another tenant's device is answered like an unknown one: its existence is not told.
    const other = await run(viewerA, DEVICE, { id: deviceB });
    expectAllowed(other);
    expect(other.data).toEqual({ device: null });
    expect(await run(viewerA, DEVICE, { id: '00000000-0000-4000-8000-000000000000' })).toEqual(other);
    expectForbidden(await run(viewerA, TENANT_DEVICES, { t: tenantB }));
    expectForbidden(await run(viewerA, DEVICE_ENTITY, { id: deviceB }));
    // A key is only a key: the caller sent it.
    expectAllowed(await run(viewerA, TENANT_KEY, { t: tenantB }));
  });

  it('refuses a viewer createDevice, and creates nothing', async () => {
    expectForbidden(await run(viewerA, CREATE, { t: tenantA, n: 'by-viewer' }));
    expect((await registry.listByTenant(tenantA)).map((d) => d.name)).toEqual(['a-1']);
  });

  it('lets an operator create devices in its tenant only', async () => {
    const created = await run(operatorA, CREATE, { t: tenantA, n: 'by-operator' });
    expectAllowed(created);
    expect(created.data).toEqual({ createDevice: { id: expect.any(String), tenant: { id: tenantA } } });
    expectForbidden(await run(operatorA, CREATE, { t: tenantB, n: 'by-operator' }));
    expect((await registry.listByTenant(tenantB)).map((d) => d.name)).toEqual(['b-1']);
  });

  it('lets a platform reader read across tenants, but not create', async () => {
    for (const [tenant, device] of [
      [tenantA, deviceA],
      [tenantB, deviceB],
    ] as const) {
      expectAllowed(await run(platformReader, DEVICES, { t: tenant }));
      expectAllowed(await run(platformReader, TENANT_DEVICES, { t: tenant }));
      const one = await run(platformReader, DEVICE, { id: device });
      expectAllowed(one);
      expect(one.data).toMatchObject({ device: { id: device, tenant: { id: tenant } } });
    }
    expectForbidden(await run(platformReader, CREATE, { t: tenantB, n: 'by-reader' }));
  });

  it('holds an API key to its scopes in its tenant', async () => {
    const own = await run(readerKeyB, DEVICES, { t: tenantB });
    expectAllowed(own);
    expect(own.data).toEqual({ devices: [{ id: deviceB, tenant: { id: tenantB } }] });
    expectForbidden(await run(readerKeyB, DEVICES, { t: tenantA }));
    expect((await run(readerKeyB, DEVICE, { id: deviceA })).data).toEqual({ device: null });
    expectForbidden(await run(readerKeyB, CREATE, { t: tenantB, n: 'by-reader-key' }));

    expectAllowed(await run(writerKeyB, CREATE, { t: tenantB, n: 'by-writer-key' }));
    expectForbidden(await run(writerKeyB, CREATE, { t: tenantA, n: 'by-writer-key' }));
  });

  it('names a rule for every field of every object type', () => {
    expect(uncoveredFields(buildSubgraphSchema([{ typeDefs, resolvers }]), rules)).toEqual([]);
  });

  it('denies a field no rule names, even to a platform administrator', async () => {
    const extended = applyMiddleware(
      buildSubgraphSchema([
        { typeDefs, resolvers },
        {
          typeDefs: parse(
            'type Secret { value: String } extend type Query { unlisted: String secret: Secret }',
          ),
          resolvers: { Query: { unlisted: () => 'leaked', secret: () => ({ value: 'leaked' }) } },
        },
      ]),
      permissions,
    );
    const result = await graphql({
      schema: extended,
      source: '{ unlisted secret { value } }',
      contextValue: {
        devices: registry,
        enrollments,
        templates,
        provisioning: new Provisioning(registry, templates),
        jobs: new JobStore(database.db, { devices: registry, templates, onEvent: () => undefined }),
        rollouts: new RolloutStore(database.db, {
          devices: registry,
          templates,
          jobs: new JobStore(database.db, { devices: registry, templates, onEvent: () => undefined }),
          onEvent: () => undefined,
        }),
        request: { caller: 'gateway', principal: platformAdmin, requestId: 'r', clientAddress: '', logger },
      },
    });
    expectForbidden(result);
    expect(result.data).toEqual({ unlisted: null, secret: null });
    expect(JSON.stringify(result)).not.toContain('leaked');
  });
});
