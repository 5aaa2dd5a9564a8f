import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
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
import type { OutboxEvent } from '@fleet/outbox';
import { ANONYMOUS, createLogger, type Principal, type SignedRequest } from '@fleet/service-kit';
import { openAuditTestDatabase, type AuditTestDatabase } from '../../../../test/support/audit-database.js';
import { historyResolvers } from '../history/history-resolvers.js';
import { resolvers, type AuditContext } from '../resolvers.js';
import { permissions, rules } from './permissions.js';

/**
 * The audit subgraph's own authorization, on its real schema and resolvers over a real (PGlite)
 * database: the whole log and its verification are for platform readers, every read of it shows
 * each caller only the events of the tenants it holds audit:read in, and nothing the rules do not
 * name is served.
 */

const logger = createLogger({ service: 'test', level: 'silent' });
const typeDefs = parse(readFileSync(new URL('../../schema.graphql', import.meta.url), 'utf8'));

const tenantA = randomUUID();
const tenantB = randomUUID();
const deviceA = randomUUID();
const deviceB = randomUUID();

function user(tenantId: string | null, scopes: string[]): Principal {
  return { kind: 'user', userId: randomUUID(), tenantId, roles: [], scopes, sessionId: randomUUID() };
}

function apiKey(tenantId: string, scopes: string[]): Principal {
  return { kind: 'apiKey', keyId: randomUUID(), tenantId, scopes };
}

const viewerA = user(tenantA, ['tenant:read', 'devices:read']);
const auditorA = user(tenantA, ['tenant:read', 'devices:read', 'audit:read', 'members:read']);
const platformReader = user(randomUUID(), ['platform:read', 'tenant:read', 'members:read', 'audit:read']);
const platformAdmin = user(randomUUID(), ['platform:admin']);
const auditKeyB = apiKey(tenantB, ['audit:read']);

function event(aggregateId: string, sequence: number, tenantId: string | null): OutboxEvent {
  return {
    id: randomUUID(),
    source: 'devices',
    aggregateType: 'device',
    aggregateId,
    sequence,
    type: `device.event-${sequence}`,
    tenantId,
    actor: { kind: 'system', id: null },
    occurredAt: new Date().toISOString(),
    payload: { sequence },
  };
}

const HISTORY =
  'query($id: ID!) { _entities(representations: [{ __typename: "Device", id: $id }]) { ... on Device { id history { sequence tenantId actor { kind id } } } } }';
const DEVICE_KEY =
  'query($id: ID!) { _entities(representations: [{ __typename: "Device", id: $id }]) { ... on Device { id } } }';
const AUDIT_EVENTS = '{ auditEvents(first: 500) { edges { node { aggregateId sequence tenantId } } } }';
const AUDIT_EVENTS_OF = 'query($t: ID) { auditEvents(filter: { tenantId: $t }) { edges { node { id } } } }';
const ENTITY_HISTORY =
  'query($id: ID!) { entityHistory(entityType: "device", entityId: $id) { edges { node { sequence } } } }';
const ENTITY_AT =
  'query($id: ID!) { entityAt(entityType: "device", entityId: $id, asOf: "2999-01-01T00:00:00Z") { sequence tenantId } }';
const ENTITY_DIFF = `query($id: ID!) {
  entityDiff(entityType: "device", entityId: $id, from: "2000-01-01T00:00:00Z", to: "2999-01-01T00:00:00Z") {
    before { sequence } after { sequence } changes { path }
  }
}`;
const VERIFY = '{ verifyAuditLog { ok checked firstBrokenPosition } }';
const EVENT_ENTITY = 'query($r: [_Any!]!) { _entities(representations: $r) { ... on AuditEvent { id } } }';

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

describe('the audit permissions', () => {
  let store: AuditTestDatabase;
  let schema: GraphQLSchema;

  /** Executes an operation as the principal, with a fresh context (shield caches per context). */
  const run = (principal: Principal, source: string, variableValues: Record<string, unknown> = {}) => {
    const request: SignedRequest = {
      caller: 'gateway',
      principal,
      requestId: randomUUID(),
      clientAddress: '',
      logger,
    };
    const contextValue: AuditContext = store.context(request);
    return graphql({ schema, source, variableValues, contextValue });
  };

  /** The sequences of a device's history the principal is shown. */
  const historyOf = async (principal: Principal, device: string) => {
    const result = await run(principal, HISTORY, { id: device });
    expectAllowed(result);
    const [entity] = (result.data as { _entities: { history: { sequence: number }[] }[] })._entities;
    return entity!.history.map((e) => e.sequence);
  };

  beforeAll(async () => {
    store = await openAuditTestDatabase('pglite');
    schema = applyMiddleware(buildSubgraphSchema([{ typeDefs, resolvers }]), permissions);
    // Device A's history holds an event of its tenant, one of no tenant and one of tenant B.
    await store
      .writer()
      .append([
        event(deviceA, 1, tenantA),
        event(deviceA, 2, null),
        event(deviceA, 3, tenantB),
        event(deviceB, 1, tenantB),
      ]);
  });

  afterAll(async () => {
    await store?.close();
  });

  it('refuses anonymous callers everything but _service', async () => {
    const service = await run(ANONYMOUS, '{ _service { sdl } }');
    expectAllowed(service);
    expect(service.data).toEqual({ _service: { sdl: expect.stringContaining('type AuditEvent') } });
    expectForbidden(await run(ANONYMOUS, HISTORY, { id: deviceA }));
    expectForbidden(await run(ANONYMOUS, DEVICE_KEY, { id: deviceA }));
    expectForbidden(await run(ANONYMOUS, AUDIT_EVENTS));
    expectForbidden(await run(ANONYMOUS, ENTITY_HISTORY, { id: deviceA }));
    expectForbidden(await run(ANONYMOUS, ENTITY_AT, { id: deviceA }));
    expectForbidden(await run(ANONYMOUS, ENTITY_DIFF, { id: deviceA }));
    expectForbidden(await run(ANONYMOUS, VERIFY));
  });

  it("shows a tenant's auditor only its own tenant's events of a device", async () => {
    expect(await historyOf(auditorA, deviceA)).toEqual([1]);
    expect(await historyOf(auditorA, deviceB)).toEqual([]);
    const result = await run(auditorA, HISTORY, { id: deviceA });
    expect(result.data).toEqual({
      _entities: [
        { id: deviceA, history: [{ sequence: 1, tenantId: tenantA, actor: { kind: 'system', id: null } }] },
      ],
    });
  });

  it('shows a member without audit:read no event at all', async () => {
    expect(await historyOf(viewerA, deviceA)).toEqual([]);
    expect(await historyOf(viewerA, deviceB)).toEqual([]);
    expectAllowed(await run(viewerA, DEVICE_KEY, { id: deviceA }));
  });

  it('keeps the verification of the chain for platform readers', async () => {
    for (const principal of [viewerA, auditorA, auditKeyB]) expectForbidden(await run(principal, VERIFY));
    const verified = await run(platformReader, VERIFY);
    expectAllowed(verified);
    expect(verified.data).toEqual({ verifyAuditLog: { ok: true, checked: 4, firstBrokenPosition: null } });
  });

  it("lists the whole log to platform readers, and each tenant's auditor its tenant's part", async () => {
    const listed = async (principal: Principal) => {
      const result = await run(principal, AUDIT_EVENTS);
      expectAllowed(result);
      return (
        result.data as { auditEvents: { edges: { node: { tenantId: string | null } }[] } }
      ).auditEvents.edges.map((edge) => edge.node.tenantId);
    };
    expect(await listed(platformReader)).toEqual([tenantB, tenantB, null, tenantA]);
    expect(await listed(auditorA)).toEqual([tenantA]);
    expect(await listed(auditKeyB)).toEqual([tenantB, tenantB]);
    expectForbidden(await run(viewerA, AUDIT_EVENTS));
  });

  it("refuses a tenant's auditor a filter on another tenant, rather than an empty page", async () => {
    expectAllowed(await run(auditorA, AUDIT_EVENTS_OF, { t: tenantA }));
    expectAllowed(await run(auditorA, AUDIT_EVENTS_OF, { t: null }));
    expectForbidden(await run(auditorA, AUDIT_EVENTS_OF, { t: tenantB }));
    expectForbidden(await run(auditKeyB, AUDIT_EVENTS_OF, { t: tenantA }));
    expectAllowed(await run(platformReader, AUDIT_EVENTS_OF, { t: tenantB }));
  });

  it("answers an entity's history, state and diff from the caller's tenant's events only", async () => {
    const as = async (principal: Principal) => {
      const history = await run(principal, ENTITY_HISTORY, { id: deviceA });
      const at = await run(principal, ENTITY_AT, { id: deviceA });
      const diff = await run(principal, ENTITY_DIFF, { id: deviceA });
      for (const result of [history, at, diff]) expectAllowed(result);
      return {
        history: (
          history.data as { entityHistory: { edges: { node: { sequence: number } }[] } }
        ).entityHistory.edges.map((edge) => edge.node.sequence),
        at: (at.data as { entityAt: unknown }).entityAt,
        diff: (diff.data as { entityDiff: unknown }).entityDiff,
      };
    };
    expect(await as(platformReader)).toEqual({
      history: [1, 2, 3],
      at: { sequence: 3, tenantId: tenantB },
      diff: { before: null, after: { sequence: 3 }, changes: [{ path: 'sequence' }] },
    });
    expect(await as(auditorA)).toEqual({
      history: [1],
      at: { sequence: 1, tenantId: tenantA },
      diff: { before: null, after: { sequence: 1 }, changes: [{ path: 'sequence' }] },
    });
    expect(await as(auditKeyB)).toMatchObject({ history: [3], at: { sequence: 3, tenantId: tenantB } });
    for (const query of [ENTITY_HISTORY, ENTITY_AT, ENTITY_DIFF]) {
      expectForbidden(await run(viewerA, query, { id: deviceA }));
    }
  });

  it('checks a state and a diff against the tenant of the events they show', async () => {
    const state = (tenantId: string | null) => ({ tenantId, sequence: 1 });
    const stateSchema = applyMiddleware(
      buildSubgraphSchema([
        {
          typeDefs,
          resolvers: {
            ...resolvers,
            Query: {
              ...historyResolvers.Query,
              // Stand-ins for the resolvers, to show the rules hold even if one of them slipped.
              entityAt: (_: unknown, args: { entityId: string }) =>
                state(args.entityId === 'b' ? tenantB : null),
              entityDiff: () => ({ before: state(tenantA), after: state(tenantB), changes: [] }),
            },
          },
        },
      ]),
      permissions,
    );
    const runOn = (principal: Principal, source: string) =>
      graphql({
        schema: stateSchema,
        source,
        contextValue: store.context({
          caller: 'gateway',
          principal,
          requestId: 'r',
          clientAddress: '',
          logger,
        }),
      });
    const AT_OF = (id: string) =>
      `{ entityAt(entityType: "device", entityId: "${id}", asOf: "2999-01-01T00:00:00Z") { sequence } }`;
    const DIFF_OF =
      '{ entityDiff(entityType: "device", entityId: "d", from: "2000-01-01T00:00:00Z", to: "2999-01-01T00:00:00Z") { changes { path } } }';
    expectForbidden(await runOn(auditorA, AT_OF('b')));
    expectForbidden(await runOn(auditorA, AT_OF('none')));
    expectAllowed(await runOn(auditKeyB, AT_OF('b')));
    expectAllowed(await runOn(platformReader, AT_OF('none')));
    expectForbidden(await runOn(auditorA, DIFF_OF));
    expectForbidden(await runOn(auditKeyB, DIFF_OF));
    expectAllowed(await runOn(platformReader, DIFF_OF));
  });

  it('shows a platform reader every event of a device, those of no tenant included', async () => {
    expect(await historyOf(platformReader, deviceA)).toEqual([1, 2, 3]);
    expect(await historyOf(platformReader, deviceB)).toEqual([1]);
  });

  it('holds an API key to its scopes in its tenant', async () => {
    expect(await historyOf(auditKeyB, deviceA)).toEqual([3]);
    expect(await historyOf(auditKeyB, deviceB)).toEqual([1]);
  });

  it('checks every event against its own tenant, however it was reached', async () => {
    const entity = (tenantId?: string | null) => ({
      r: [{ __typename: 'AuditEvent', id: randomUUID(), ...(tenantId === undefined ? {} : { tenantId }) }],
    });
    expectAllowed(await run(auditorA, EVENT_ENTITY, entity(tenantA)));
    expectForbidden(await run(auditorA, EVENT_ENTITY, entity(tenantB)));
    expectForbidden(await run(auditorA, EVENT_ENTITY, entity(null)));
    expectForbidden(await run(auditorA, EVENT_ENTITY, entity()));
    expectAllowed(await run(platformReader, EVENT_ENTITY, entity(null)));
    expectAllowed(await run(auditKeyB, EVENT_ENTITY, entity(tenantB)));
    expectForbidden(await run(auditKeyB, EVENT_ENTITY, entity(null)));
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
      contextValue: store.context({
        caller: 'gateway',
        principal: platformAdmin,
        requestId: 'r',
        clientAddress: '',
        logger,
      }),
    });
    expectForbidden(result);
    expect(result.data).toEqual({ unlisted: null, secret: null });
    expect(JSON.stringify(result)).not.toContain('leaked');
  });
});
