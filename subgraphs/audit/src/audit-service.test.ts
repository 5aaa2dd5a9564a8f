import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkpointSignedBy, parsePublicKey, type Checkpoint } from '@fleet/audit-chain';
import { decodeKey, generateKey } from '@fleet/request-signing';
import {
  createLogger,
  encodePrincipal,
  loadConfig,
  signedPost,
  type Engine,
  type Principal,
  type StartedService,
} from '@fleet/service-kit';
import { deviceEvent } from '../../../test/support/audit-database.js';
import { createServiceDatabases, postgresSuiteEnabled } from '../../../test/support/postgres.js';
import { testPki } from '../../../test/support/test-pki.js';
import { startAudit } from './audit-service.js';
import { auditConfigSpec } from './config.js';

const engines: { engine: Engine; enabled: boolean }[] = [
  { engine: 'pglite', enabled: true },
  { engine: 'postgres', enabled: await postgresSuiteEnabled() },
];

const newKey = () => decodeKey(generateKey()) as Buffer;
const pki = await testPki();

function user(tenantId: string | null, scopes: string[]): Principal {
  return { kind: 'user', userId: randomUUID(), tenantId, roles: [], scopes, sessionId: randomUUID() };
}

const event = deviceEvent;

/**
 * The audit service as it runs, over HTTP: producers' signed batches at /ingest, each accepted
 * only from its own source and appended once; and the integrity and retention side of its
 * GraphQL, as the gateway calls it on a principal's behalf.
 */
describe.each(engines)('the audit service on $engine', ({ engine, enabled }) => {
  let dir: string;
  let service: StartedService;
  let dropDatabase: (() => Promise<void>) | undefined;
  let baseUrl: string;
  const keys = { gateway: newKey(), aaa: newKey(), devices: newKey(), billing: newKey() };
  const tenantA = randomUUID();
  const admin = user(randomUUID(), ['platform:admin']);
  const reader = user(randomUUID(), ['platform:read']);
  const auditorA = user(tenantA, ['audit:read']);
  const ownerA = user(tenantA, ['audit:read', 'audit:restore', 'devices:write']);

  const ingest = (caller: keyof typeof keys, body: unknown, key = keys[caller]) =>
    signedPost({
      caller,
      audience: 'audit',
      key,
      baseUrl,
      tls: pki.tls(caller),
      path: '/ingest',
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  const graphql = async <T>(principal: Principal, query: string, variables: Record<string, unknown> = {}) => {
    const response = await signedPost({
      caller: 'gateway',
      audience: 'audit',
      key: keys.gateway,
      baseUrl,
      tls: pki.tls('gateway'),
      path: '/graphql',
      body: JSON.stringify({ query, variables }),
      principal: encodePrincipal(principal),
    });
    return (await response.json()) as {
      data?: T | null;
      errors?: { message: string; extensions: { code: string } }[];
    };
  };
  const verify = async () =>
    (
      await graphql<{ verifyAuditLog: { ok: boolean; checked: number; checkpoints: number } }>(
        reader,
        '{ verifyAuditLog { ok checked checkpoints } }',
      )
    ).data!.verifyAuditLog;

  beforeAll(async () => {
    if (!enabled) return;
    dir = await mkdtemp(join(tmpdir(), 'audit-service-'));
    let databaseUrl: string | undefined;
    if (engine === 'postgres') {
      const created = await createServiceDatabases(['audit']);
      databaseUrl = created.databases.audit.url;
      dropDatabase = created.drop;
    }
    const config = loadConfig(auditConfigSpec, 'AUDIT_', {
      AUDIT_PORT: '0',
      AUDIT_DATA_DIR: dir,
      ...(databaseUrl ? { AUDIT_DATABASE_URL: databaseUrl } : {}),
      AUDIT_KEY_GATEWAY: keys.gateway.toString('base64url'),
      AUDIT_KEY_AAA: keys.aaa.toString('base64url'),
      AUDIT_KEY_DEVICES: keys.devices.toString('base64url'),
      AUDIT_KEY_BILLING: keys.billing.toString('base64url'),
      AUDIT_CHECKPOINT_EVERY_EVENTS: '5',
      AUDIT_EXPORT_MAX_POSITIONS: '100',
      AUDIT_LOG_LEVEL: 'silent',
      ...pki.env('audit'),
    });
    service = await startAudit(config, createLogger({ service: 'audit', level: 'silent' }));
    baseUrl = `https://127.0.0.1:${service.port}`;
  });

  afterAll(async () => {
    await service?.stop();
    await dropDatabase?.();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it.runIf(enabled)('appends a producer’s batch once, however often it is delivered', async () => {
    const batch = [event({ tenantId: tenantA }), event(), event()];
    const first = await ingest('devices', { events: batch });
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({ appended: 3, duplicates: 0 });
    const again = await ingest('devices', { events: [...batch, event({ source: 'devices' })] });
    expect(await again.json()).toEqual({ appended: 1, duplicates: 3 });
    expect(await verify()).toMatchObject({ ok: true, checked: 4 });
  });

  it.runIf(enabled)(
    'hashes an event alike whatever its key order or time notation, keeping only known fields',
    async () => {
      const original = event({ occurredAt: '2026-11-23T10:00:00.000Z' });
      const reordered = {
        ...Object.fromEntries(Object.entries(original).reverse()),
        occurredAt: '2026-11-23T11:00:00+01:00',
        payload: { nested: { a: [1, 'x'], b: 2 }, name: 'r1' },
        extra: 'dropped',
      };
      expect((await ingest('devices', { events: [reordered] })).status).toBe(200);
      const found = await graphql<{ auditEvents: { edges: { node: Record<string, unknown> }[] } }>(
        reader,
        'query($id: ID!) { auditEvents(filter: { entityType: "device", entityId: $id }) { edges { node { occurredAt payload } } } }',
        { id: original.aggregateId },
      );
      expect(found.data!.auditEvents.edges[0]!.node).toEqual({
        occurredAt: '2026-11-23T10:00:00.000Z',
        payload: { name: 'r1', nested: { b: 2, a: [1, 'x'] } },
      });
      expect((await verify()).ok).toBe(true);
    },
  );

  it.runIf(enabled)('refuses what a producer may not write, whole batches, and appends nothing', async () => {
    const before = await verify();
    const refusals: [keyof typeof keys, unknown, number, string | undefined][] = [
      [
        'devices',
        { events: [event(), event({ source: 'aaa' })] },
        400,
        'events[1]: source must be "devices", the signing service',
      ],
      ['billing', { events: [event()] }, 400, 'events[0]: source must be "billing", the signing service'],
      ['devices', {}, 400, 'body must be {"events": [...]}'],
      ['devices', 'not json', 400, 'Malformed JSON in request body'],
      ['devices', { events: [event({ id: 'x' })] }, 400, 'events[0]: id must be a UUID'],
      [
        'devices',
        { events: [event({ sequence: 0 })] },
        400,
        'events[0]: sequence must be a positive integer',
      ],
      [
        'devices',
        { events: [event({ occurredAt: 'yesterday' })] },
        400,
        'events[0]: occurredAt must be an ISO 8601 time',
      ],
      [
        'devices',
        { events: [event({ occurredAt: '0999-01-01T00:00:00Z' })] },
        400,
        'events[0]: occurredAt must be between the years 1970 and 9999',
      ],
      [
        'devices',
        { events: [event({ actor: { kind: 'root' as 'user', id: null } })] },
        400,
        'events[0]: actor is invalid',
      ],
      [
        'devices',
        { events: [event({ payload: [] as unknown as Record<string, unknown> })] },
        400,
        'events[0]: payload must be an object',
      ],
      [
        'devices',
        { events: Array.from({ length: 1_001 }, () => event()) },
        400,
        'at most 1000 events per batch',
      ],
    ];
    for (const [caller, body, status, message] of refusals) {
      const response = await ingest(caller, body);
      expect(response.status, message).toBe(status);
      expect(((await response.json()) as { errors: { message: string }[] }).errors[0]!.message).toBe(message);
    }
    // Another pair's key, and no signature at all: a bare 401.
    expect((await ingest('devices', { events: [event()] }, keys.aaa)).status).toBe(401);
    const unsigned = await fetch(`${baseUrl}/ingest`, {
      method: 'POST',
      body: '{"events":[]}',
      dispatcher: pki.tls('devices').dispatcher('audit'),
    });
    expect(unsigned.status).toBe(401);
    // Two events for one place in an entity's history.
    const taken = event();
    expect((await ingest('devices', { events: [taken] })).status).toBe(200);
    const conflict = await ingest('devices', {
      events: [event(), { ...event(), aggregateId: taken.aggregateId }],
    });
    expect(conflict.status).toBe(409);
    expect(await verify()).toMatchObject({ ok: true, checked: before.checked + 1 });
  });

  it.runIf(enabled)('publishes the key its checkpoints verify with', async () => {
    await ingest('aaa', {
      events: Array.from({ length: 5 }, () => event({ source: 'aaa', aggregateType: 'user' })),
    });
    const published = await graphql<{
      auditSigningKeys: { keyId: string; publicKeyPem: string; current: boolean; algorithm: string }[];
    }>(auditorA, '{ auditSigningKeys { keyId publicKeyPem current algorithm } }');
    const [key] = published.data!.auditSigningKeys;
    expect(key).toMatchObject({ current: true, algorithm: 'Ed25519' });
    const exported = await graphql<{ auditExport: { ndjson: string } }>(reader, '{ auditExport { ndjson } }');
    const checkpoints = exported
      .data!.auditExport.ndjson.trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { kind: string; checkpoint?: Checkpoint })
      .flatMap((line) => (line.checkpoint ? [line.checkpoint] : []));
    expect(checkpoints.length).toBeGreaterThan(1);
    for (const checkpoint of checkpoints) {
      expect(checkpoint.keyId).toBe(key!.keyId);
      expect(checkpointSignedBy(checkpoint, [parsePublicKey(key!.publicKeyPem)])).toBe(true);
    }
    expect((await verify()).checkpoints).toBe(checkpoints.length);
  });

  it.runIf(enabled)('refuses bad ranges and exports beyond the bound, naming the argument', async () => {
    const refused = async (query: string, field: string) => {
      const result = await graphql(reader, query);
      expect(result.errors?.[0]?.extensions, JSON.stringify(result)).toEqual({
        code: 'BAD_USER_INPUT',
        field,
      });
    };
    await refused('{ verifyAuditLog(fromPosition: "0") { ok } }', 'fromPosition');
    await refused('{ verifyAuditLog(fromPosition: "x1") { ok } }', 'fromPosition');
    await refused('{ verifyAuditLog(fromPosition: "9", toPosition: "3") { ok } }', 'toPosition');
    await refused('{ auditExport(fromPosition: "1", toPosition: "101") { ndjson } }', 'toPosition');
    await refused('{ auditRetention(tenantId: "not-a-uuid") { days } }', 'tenantId');
  });

  it.runIf(enabled)('lets platform administrators alone set retention; tenants read their own', async () => {
    const set =
      'mutation($t: ID, $d: Int) { setAuditRetention(tenantId: $t, days: $d) { tenantId days own } }';
    const forbidden = await graphql(ownerA, set, { t: tenantA, d: 1 });
    expect(forbidden.errors?.[0]?.extensions.code).toBe('FORBIDDEN');
    expect((await graphql(admin, set, { t: tenantA, d: 0 })).errors?.[0]?.extensions).toEqual({
      code: 'BAD_USER_INPUT',
      field: 'days',
    });
    expect((await graphql(admin, set, { t: tenantA, d: 30 })).data).toEqual({
      setAuditRetention: { tenantId: tenantA, days: 30, own: true },
    });
    expect((await graphql(admin, set, { t: null, d: 400 })).data).toEqual({
      setAuditRetention: { tenantId: null, days: 400, own: false },
    });
    const read = '{ auditRetention { tenantId days own } }';
    expect((await graphql(auditorA, read)).data).toEqual({
      auditRetention: { tenantId: tenantA, days: 30, own: true },
    });
    expect((await graphql(admin, set, { t: tenantA, d: null })).data).toEqual({
      setAuditRetention: { tenantId: tenantA, days: 400, own: false },
    });
    const other = await graphql(auditorA, 'query($t: ID) { auditRetention(tenantId: $t) { days } }', {
      t: randomUUID(),
    });
    expect(other.errors?.[0]?.extensions.code).toBe('FORBIDDEN');
    // Nothing is 400 days old: enforcing seals nothing, and there are no seals to list.
    expect((await graphql(admin, 'mutation { enforceAuditRetention { id } }')).data).toEqual({
      enforceAuditRetention: [],
    });
    expect((await graphql(auditorA, '{ auditSeals { id } }')).data).toEqual({ auditSeals: [] });
    expect(
      (await graphql(auditorA, 'mutation { enforceAuditRetention { id } }')).errors?.[0]?.extensions.code,
    ).toBe('FORBIDDEN');
  });
});
