import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { graphql, parse, type ExecutionResult, type GraphQLSchema } from 'graphql';
import { applyMiddleware } from 'graphql-middleware';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OutboxEvent } from '@fleet/outbox';
import { ANONYMOUS, createLogger, type Engine, type Principal, type SignedRequest } from '@fleet/service-kit';
import { openAuditTestDatabase, type AuditTestDatabase } from '../../../../test/support/audit-database.js';
import { postgresSuiteEnabled } from '../../../../test/support/postgres.js';
import { permissions } from '../access/permissions.js';
import { ALL_EVENTS, type EventScope } from '../access/policy.js';
import { resolvers, type AuditContext } from '../resolvers.js';

/**
 * The read side of the log through the real schema, resolvers and shield, over a real database
 * on both engines, filled through the chain writer: every filter of auditEvents, alone and
 * combined, pages that neither repeat nor skip an event, refused arguments, each caller held to
 * its tenant, an entity's history, its state at a moment and the difference between two.
 */

const logger = createLogger({ service: 'test', level: 'silent' });
const typeDefs = parse(readFileSync(new URL('../../schema.graphql', import.meta.url), 'utf8'));

const engines: { engine: Engine; enabled: boolean }[] = [
  { engine: 'pglite', enabled: true },
  { engine: 'postgres', enabled: await postgresSuiteEnabled() },
];

const tenantA = randomUUID();
const tenantB = randomUUID();

function user(tenantId: string | null, scopes: string[]): Principal {
  return { kind: 'user', userId: randomUUID(), tenantId, roles: [], scopes, sessionId: randomUUID() };
}

const auditorA = user(tenantA, ['tenant:read', 'audit:read']);
const auditorB = user(tenantB, ['tenant:read', 'audit:read']);
const viewerA = user(tenantA, ['tenant:read', 'devices:read']);
const homeless = user(null, ['audit:read']);
const auditKeyB: Principal = {
  kind: 'apiKey',
  keyId: randomUUID(),
  tenantId: tenantB,
  scopes: ['audit:read'],
};
const platformReader = user(randomUUID(), ['platform:read', 'tenant:read', 'audit:read']);

const T0 = Date.parse('2025-01-01T00:00:00.000Z');
/** A moment `minutes` after T0, as ISO text. */
const at = (minutes: number) => new Date(T0 + minutes * 60_000).toISOString();

/** The actors of the generated log: a person of A, an API key of B, the system. */
const personA = randomUUID();
const keyB = randomUUID();
const ACTORS = [
  { kind: 'user', id: personA },
  { kind: 'apiKey', id: keyB },
  { kind: 'system', id: null },
] as const;
const TENANTS = [tenantA, tenantB, null] as const;
const ENTITY_TYPES = ['device', 'user'] as const;

/** One device of tenant A whose history exercises the fold (see the entityAt tests). */
const deviceX = randomUUID();
/** One device whose events carry three tenants: A, none, then B. */
const mixed = randomUUID();

const SEED = 95;

/** The log the tests append, in arrival order: position i + 1 holds log[i]. */
function buildLog(): OutboxEvent[] {
  const log: OutboxEvent[] = [];
  const sequences = new Map<string, number>();
  const entities = TENANTS.flatMap(() => [randomUUID(), randomUUID()]);
  for (let i = 0; i < SEED; i++) {
    const tenantId = TENANTS[i % 3]!;
    const aggregateType = ENTITY_TYPES[i % 2]!;
    const aggregateId = entities[(i % 3) * 2 + (Math.floor(i / 3) % 2)]!;
    const key = `${aggregateType}/${aggregateId}`;
    const sequence = (sequences.get(key) ?? 0) + 1;
    sequences.set(key, sequence);
    log.push({
      id: randomUUID(),
      source: aggregateType === 'device' ? 'devices' : 'aaa',
      aggregateType,
      aggregateId,
      sequence,
      type: `${aggregateType}.${sequence === 1 ? 'created' : 'updated'}`,
      tenantId,
      actor: ACTORS[Math.floor(i / 6) % 3]!,
      // Occurrence order is not arrival order: the log is a permutation of 95 minutes.
      occurredAt: at((i * 37) % SEED),
      payload: { i },
    });
  }
  const x = (sequence: number, type: string, minute: number, payload: Record<string, unknown>) =>
    ({
      id: randomUUID(),
      source: 'devices',
      aggregateType: 'device',
      aggregateId: deviceX,
      sequence,
      type,
      tenantId: tenantA,
      actor: { kind: 'user', id: personA },
      occurredAt: at(minute),
      payload,
    }) satisfies OutboxEvent;
  // Arrival order 1, 3, 2: the third change (made on a clock running behind) arrived first.
  log.push(
    x(1, 'device.created', 200, {
      name: 'gw',
      site: 'ams',
      tags: ['a'],
      tls: { mode: 'pinned', fingerprint: 'f1' },
    }),
    x(3, 'device.tags-changed', 210, { tags: ['a', 'b'] }),
    x(2, 'device.updated', 220, {
      name: 'gw-ams',
      site: 'ams',
      tags: ['a'],
      tls: { mode: 'pinned', fingerprint: 'f2' },
    }),
    x(4, 'device.moved', 230, { site: 'rtm' }),
    x(5, 'device.removed', 240, {}),
    x(6, 'device.restored', 250, { name: 'gw-new', site: 'ams' }),
  );
  for (const [sequence, tenantId] of [tenantA, null, tenantB].entries()) {
    log.push({
      id: randomUUID(),
      source: 'devices',
      aggregateType: 'device',
      aggregateId: mixed,
      sequence: sequence + 1,
      type: 'device.updated',
      tenantId,
      actor: { kind: 'system', id: null },
      occurredAt: at(300 + sequence),
      payload: { owner: tenantId },
    });
  }
  return log;
}

interface Filter {
  actor?: { kind?: string; id?: string };
  tenantId?: string;
  entityType?: string;
  entityId?: string;
  type?: string;
  occurredFrom?: string;
  occurredTo?: string;
}

/** What auditEvents must answer: the log's events in the scope that match, in page order. */
function expectedIds(log: readonly OutboxEvent[], filter: Filter, scope: EventScope, order: 'ASC' | 'DESC') {
  const from = filter.occurredFrom === undefined ? -Infinity : Date.parse(filter.occurredFrom);
  const to = filter.occurredTo === undefined ? Infinity : Date.parse(filter.occurredTo);
  const matching = log.filter(
    (e) =>
      (scope.kind === 'all' || e.tenantId === scope.tenantId) &&
      (filter.tenantId === undefined || e.tenantId === filter.tenantId) &&
      (filter.actor?.kind === undefined || e.actor.kind === filter.actor.kind) &&
      (filter.actor?.id === undefined || e.actor.id === filter.actor.id) &&
      (filter.entityType === undefined || e.aggregateType === filter.entityType) &&
      (filter.entityId === undefined || e.aggregateId === filter.entityId) &&
      (filter.type === undefined || e.type === filter.type) &&
      Date.parse(e.occurredAt) >= from &&
      Date.parse(e.occurredAt) < to,
  );
  // In the log's order (position i + 1 holds log[i]), or with a time range by occurrence first.
  const byTime = filter.occurredFrom !== undefined || filter.occurredTo !== undefined;
  const ordered = byTime
    ? matching
        .map((e) => ({ e, at: Date.parse(e.occurredAt), position: log.indexOf(e) }))
        .sort((a, b) => a.at - b.at || a.position - b.position)
        .map(({ e }) => e)
    : matching;
  const ids = ordered.map((e) => e.id);
  return order === 'ASC' ? ids : ids.reverse();
}

interface Page {
  edges: {
    cursor: string;
    node: { id: string; position: string; sequence: number; tenantId: string | null };
  }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

const LIST = `query($filter: AuditEventFilter, $first: Int, $after: String, $order: AuditEventOrder) {
  auditEvents(filter: $filter, first: $first, after: $after, order: $order) {
    edges { cursor node { id position sequence tenantId } }
    pageInfo { hasNextPage endCursor }
  }
}`;
const HISTORY = `query($type: String!, $id: ID!, $first: Int, $after: String) {
  entityHistory(entityType: $type, entityId: $id, first: $first, after: $after) {
    edges { cursor node { id position sequence tenantId type } }
    pageInfo { hasNextPage endCursor }
  }
}`;
const STATE_FIELDS =
  'entityType entityId asOf exists state sequence tenantId event { sequence type tenantId hash }';
const AT = `query($type: String!, $id: ID!, $asOf: String!) {
  entityAt(entityType: $type, entityId: $id, asOf: $asOf) { ${STATE_FIELDS} }
}`;
const DIFF = `query($type: String!, $id: ID!, $from: String!, $to: String!) {
  entityDiff(entityType: $type, entityId: $id, from: $from, to: $to) {
    before { ${STATE_FIELDS} } after { ${STATE_FIELDS} } changes { path before after }
  }
}`;

function expectAllowed(result: ExecutionResult): void {
  expect(result.errors, JSON.stringify(result.errors)).toBeUndefined();
}

function expectForbidden(result: ExecutionResult): void {
  expect(result.errors?.length, JSON.stringify(result)).toBeGreaterThan(0);
  for (const error of result.errors ?? []) expect(error.extensions.code).toBe('FORBIDDEN');
  expect(JSON.stringify(result.data ?? null)).not.toMatch(/"id"/);
}

function expectBadInput(result: ExecutionResult, field: string): void {
  expect(result.errors, JSON.stringify(result)).toHaveLength(1);
  expect(result.errors![0]!.extensions).toEqual({ code: 'BAD_USER_INPUT', field });
  expect(
    Object.values(result.data ?? {}).every((value) => value === null),
    JSON.stringify(result),
  ).toBe(true);
}

describe.each(engines)('the audit history queries on $engine', ({ engine, enabled }) => {
  let store: AuditTestDatabase;
  let schema: GraphQLSchema;
  const log = buildLog();

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

  const page = async (principal: Principal, variables: Record<string, unknown>): Promise<Page> => {
    const result = await run(principal, LIST, variables);
    expectAllowed(result);
    return (result.data as { auditEvents: Page }).auditEvents;
  };

  /**
   * Every page of a listing, `first` at a time: the ids in the order read, after checking that
   * each page is full but the last, that no cursor repeats and that the last page says so.
   */
  const listAll = async (
    principal: Principal,
    filter: Filter,
    options: { first?: number; order?: 'ASC' | 'DESC' } = {},
  ): Promise<string[]> => {
    const first = options.first ?? 7;
    const ids: string[] = [];
    const cursors = new Set<string>();
    let after: string | null = null;
    for (let pages = 0; pages < 1_000; pages++) {
      const current: Page = await page(principal, { filter, first, after, order: options.order });
      for (const edge of current.edges) {
        expect(cursors.has(edge.cursor)).toBe(false);
        cursors.add(edge.cursor);
        ids.push(edge.node.id);
      }
      expect(current.pageInfo.endCursor).toBe(current.edges.at(-1)?.cursor ?? null);
      if (!current.pageInfo.hasNextPage) return ids;
      expect(current.edges).toHaveLength(first);
      after = current.pageInfo.endCursor;
    }
    throw new Error('the listing does not end');
  };

  const stateAt = async (principal: Principal, id: string, asOf: string) => {
    const result = await run(principal, AT, { type: 'device', id, asOf });
    expectAllowed(result);
    return (result.data as { entityAt: Record<string, unknown> | null }).entityAt;
  };

  beforeAll(async () => {
    if (!enabled) return;
    store = await openAuditTestDatabase(engine);
    schema = applyMiddleware(buildSubgraphSchema([{ typeDefs, resolvers }]), permissions);
    const writer = store.writer();
    // In batches of various sizes, as relays deliver them; one event per batch for device X.
    for (let i = 0; i < SEED; i += 13) await writer.append(log.slice(i, Math.min(i + 13, SEED)));
    for (const event of log.slice(SEED)) await writer.append([event]);
  });

  afterAll(async () => {
    if (!enabled) return;
    await store.close();
  });

  describe('auditEvents', () => {
    it.runIf(enabled)(
      'lists the whole log newest first by position, and oldest first when asked',
      async () => {
        const ids = log.map((event) => event.id);
        expect(await listAll(platformReader, {})).toEqual([...ids].reverse());
        expect(await listAll(platformReader, {}, { order: 'ASC', first: 500 })).toEqual(ids);
        const first = await page(platformReader, {});
        expect(first.edges).toHaveLength(50);
        expect(first.edges.map((edge) => Number(edge.node.position))).toEqual(
          Array.from({ length: 50 }, (_, i) => log.length - i),
        );
        expect(first.pageInfo.hasNextPage).toBe(true);
      },
    );

    it.runIf(enabled)('pages through each page size with no event repeated or skipped', async () => {
      for (const first of [1, 2, 5, 50, log.length - 1, log.length, 500]) {
        for (const order of ['ASC', 'DESC'] as const) {
          expect(await listAll(platformReader, {}, { first, order }), `first ${first} ${order}`).toEqual(
            expectedIds(log, {}, ALL_EVENTS, order),
          );
        }
      }
      const last = await page(platformReader, { first: log.length });
      expect(last.pageInfo).toEqual({ hasNextPage: false, endCursor: last.edges.at(-1)!.cursor });
      const beyond = await page(platformReader, { after: last.pageInfo.endCursor });
      expect(beyond).toEqual({ edges: [], pageInfo: { hasNextPage: false, endCursor: null } });
    });

    it.runIf(enabled)('filters on each field alone, on every page', async () => {
      const filters: Filter[] = [
        { tenantId: tenantA },
        { tenantId: tenantB },
        { actor: { kind: 'user' } },
        { actor: { kind: 'system' } },
        { actor: { id: keyB } },
        { actor: { kind: 'apiKey', id: keyB } },
        { actor: { kind: 'user', id: keyB } },
        { entityType: 'user' },
        { entityType: 'device', entityId: deviceX },
        { type: 'device.created' },
        { type: 'user.updated' },
        { occurredFrom: at(10) },
        { occurredTo: at(10) },
        { occurredFrom: at(20), occurredTo: at(41) },
        { occurredFrom: at(20), occurredTo: '2025-01-01T01:20:00.001+01:00' },
        { type: 'no.such-type' },
      ];
      for (const filter of filters) {
        for (const order of ['ASC', 'DESC'] as const) {
          const expected = expectedIds(log, filter, ALL_EVENTS, order);
          expect(await listAll(platformReader, filter, { first: 4, order }), JSON.stringify(filter)).toEqual(
            expected,
          );
        }
      }
      // The oracle itself matches something for every filter meant to.
      expect(filters.filter((filter) => expectedIds(log, filter, ALL_EVENTS, 'ASC').length === 0)).toEqual([
        { actor: { kind: 'user', id: keyB } },
        { type: 'no.such-type' },
      ]);
    });

    it.runIf(enabled)('combines filters: every one given must hold', async () => {
      const filters: Filter[] = [
        { tenantId: tenantA, entityType: 'device' },
        { tenantId: tenantB, actor: { kind: 'apiKey' }, type: 'user.updated' },
        { entityType: 'device', type: 'device.updated', occurredFrom: at(30), occurredTo: at(80) },
        { tenantId: tenantA, entityType: 'device', entityId: deviceX, occurredFrom: at(215) },
        { tenantId: tenantA, actor: { id: personA }, occurredTo: at(50) },
      ];
      for (const filter of filters) {
        const expected = expectedIds(log, filter, ALL_EVENTS, 'DESC');
        expect(expected.length, JSON.stringify(filter)).toBeGreaterThan(0);
        expect(await listAll(platformReader, filter, { first: 3 }), JSON.stringify(filter)).toEqual(expected);
      }
    });

    it.runIf(enabled)('refuses bad arguments as BAD_USER_INPUT naming them', async () => {
      const cases: [Record<string, unknown>, string][] = [
        [{ first: 0 }, 'first'],
        [{ first: 501 }, 'first'],
        [{ first: -5 }, 'first'],
        [{ after: 'not a cursor' }, 'after'],
        [{ after: Buffer.from('1:2').toString('base64url') }, 'after'],
        [{ after: Buffer.from('-3').toString('base64url') }, 'after'],
        [{ filter: { occurredFrom: 'yesterday' } }, 'filter.occurredFrom'],
        [{ filter: { occurredFrom: '2025-01-01T00:00:00' } }, 'filter.occurredFrom'],
        [{ filter: { occurredTo: '2025-02-30T00:00:00Z' } }, 'filter.occurredTo'],
        [{ filter: { occurredFrom: at(10), occurredTo: at(10) } }, 'filter.occurredFrom'],
        [{ filter: { occurredFrom: at(11), occurredTo: at(10) } }, 'filter.occurredFrom'],
        [{ filter: { entityId: deviceX } }, 'filter.entityType'],
        [{ filter: { tenantId: '' } }, 'filter.tenantId'],
        [{ filter: { type: 'x'.repeat(129) } }, 'filter.type'],
        [{ filter: { actor: { kind: '' } } }, 'filter.actor.kind'],
      ];
      for (const [variables, field] of cases) {
        expectBadInput(await run(platformReader, LIST, variables), field);
      }
      // A cursor of an entity's history is not one of the log's.
      const history = await run(platformReader, HISTORY, { type: 'device', id: deviceX, first: 1 });
      const cursor = (history.data as { entityHistory: Page }).entityHistory.pageInfo.endCursor;
      expectBadInput(await run(platformReader, LIST, { after: cursor }), 'after');
    });

    it.runIf(enabled)("holds each tenant's auditors and API keys to their own tenant's events", async () => {
      for (const [principal, tenant] of [
        [auditorA, tenantA],
        [auditorB, tenantB],
        [auditKeyB, tenantB],
      ] as const) {
        const seen = await listAll(principal, {}, { first: 9 });
        expect(seen).toEqual(expectedIds(log, {}, { kind: 'tenant', tenantId: tenant }, 'DESC'));
        expect(await listAll(principal, { tenantId: tenant })).toEqual(seen);
        for (const filter of [
          { entityType: 'device' },
          { actor: { kind: 'system' } },
          { occurredTo: at(50) },
        ]) {
          expect(await listAll(principal, filter, { first: 2 })).toEqual(
            expectedIds(log, filter, { kind: 'tenant', tenantId: tenant }, 'DESC'),
          );
        }
        const other = tenant === tenantA ? tenantB : tenantA;
        expectForbidden(await run(principal, LIST, { filter: { tenantId: other } }));
        expectForbidden(await run(principal, LIST, { filter: { tenantId: randomUUID() } }));
      }
      // The platform reader sees the events of no tenant too; nobody else does.
      const all = await listAll(platformReader, {}, { first: 500 });
      const platformOnly = log.filter((event) => event.tenantId === null).map((event) => event.id);
      expect(platformOnly.length).toBeGreaterThan(0);
      expect(all).toEqual(expect.arrayContaining(platformOnly));
      expect(await listAll(platformReader, { tenantId: tenantB })).toEqual(
        expectedIds(log, {}, { kind: 'tenant', tenantId: tenantB }, 'DESC'),
      );
    });

    it.runIf(enabled)('refuses callers without audit:read, and anonymous ones', async () => {
      for (const principal of [viewerA, homeless, ANONYMOUS]) {
        expectForbidden(await run(principal, LIST));
        expectForbidden(await run(principal, HISTORY, { type: 'device', id: deviceX }));
        expectForbidden(await run(principal, AT, { type: 'device', id: deviceX, asOf: at(500) }));
        expectForbidden(
          await run(principal, DIFF, { type: 'device', id: deviceX, from: at(0), to: at(500) }),
        );
      }
    });
  });

  describe('entityHistory', () => {
    it.runIf(enabled)("lists an entity's events by sequence, not arrival, a page at a time", async () => {
      const sequences: number[] = [];
      const positions: number[] = [];
      let after: string | null = null;
      for (;;) {
        const result = await run(auditorA, HISTORY, { type: 'device', id: deviceX, first: 4, after });
        expectAllowed(result);
        const current: Page = (result.data as { entityHistory: Page }).entityHistory;
        sequences.push(...current.edges.map((edge) => edge.node.sequence));
        positions.push(...current.edges.map((edge) => Number(edge.node.position)));
        if (!current.pageInfo.hasNextPage) break;
        after = current.pageInfo.endCursor;
      }
      expect(sequences).toEqual([1, 2, 3, 4, 5, 6]);
      // Sequence 3 arrived before sequence 2.
      expect(positions[2]).toBeLessThan(positions[1]!);
    });

    it.runIf(enabled)("shows each caller only its tenant's events of an entity", async () => {
      const sequencesOf = async (principal: Principal, id: string) => {
        const result = await run(principal, HISTORY, { type: 'device', id, first: 500 });
        expectAllowed(result);
        return (result.data as { entityHistory: Page }).entityHistory.edges.map((edge) => edge.node.sequence);
      };
      expect(await sequencesOf(platformReader, mixed)).toEqual([1, 2, 3]);
      expect(await sequencesOf(auditorA, mixed)).toEqual([1]);
      expect(await sequencesOf(auditKeyB, mixed)).toEqual([3]);
      expect(await sequencesOf(auditorB, deviceX)).toEqual([]);
      expect(await sequencesOf(platformReader, randomUUID())).toEqual([]);
    });

    it.runIf(enabled)('refuses bad arguments as BAD_USER_INPUT naming them', async () => {
      expectBadInput(await run(platformReader, HISTORY, { type: 'device', id: deviceX, first: 0 }), 'first');
      expectBadInput(await run(platformReader, HISTORY, { type: '', id: deviceX }), 'entityType');
      expectBadInput(await run(platformReader, HISTORY, { type: 'device', id: 'x'.repeat(200) }), 'entityId');
      const list = await page(platformReader, { first: 1 });
      expectBadInput(
        await run(platformReader, HISTORY, { type: 'device', id: deviceX, after: list.pageInfo.endCursor }),
        'after',
      );
    });
  });

  describe('entityAt', () => {
    const created = { name: 'gw', site: 'ams', tags: ['a'], tls: { mode: 'pinned', fingerprint: 'f1' } };

    it.runIf(enabled)(
      'is null before the entity has an event, and holds its first state from that moment',
      async () => {
        expect(await stateAt(platformReader, deviceX, at(199))).toBeNull();
        expect(await stateAt(platformReader, randomUUID(), at(500))).toBeNull();
        expect(await stateAt(auditorA, deviceX, at(200))).toEqual({
          entityType: 'device',
          entityId: deviceX,
          asOf: at(200),
          exists: true,
          state: created,
          sequence: 1,
          tenantId: tenantA,
          event: {
            sequence: 1,
            type: 'device.created',
            tenantId: tenantA,
            hash: expect.stringMatching(/^[0-9a-f]{64}$/),
          },
        });
      },
    );

    it.runIf(enabled)('folds the events that occurred by then in sequence order, not arrival', async () => {
      // 215: sequence 3 had occurred (on a clock behind), sequence 2 not yet.
      expect(await stateAt(auditorA, deviceX, at(215))).toMatchObject({
        exists: true,
        state: { ...created, tags: ['a', 'b'] },
        sequence: 3,
      });
      // 225: sequence 2's whole snapshot, then sequence 3's tags over it (arrival order would lose them).
      expect(await stateAt(auditorA, deviceX, at(225))).toMatchObject({
        state: { name: 'gw-ams', site: 'ams', tags: ['a', 'b'], tls: { mode: 'pinned', fingerprint: 'f2' } },
        sequence: 3,
        event: { type: 'device.tags-changed' },
      });
      expect(await stateAt(auditorA, deviceX, at(230))).toMatchObject({
        exists: true,
        state: { name: 'gw-ams', site: 'rtm', tags: ['a', 'b'] },
        sequence: 4,
      });
    });

    it.runIf(enabled)(
      'tells a removed entity, with its last known state, and one that came back',
      async () => {
        const removed = await stateAt(platformReader, deviceX, at(245));
        expect(removed).toMatchObject({
          exists: false,
          state: {
            name: 'gw-ams',
            site: 'rtm',
            tags: ['a', 'b'],
            tls: { mode: 'pinned', fingerprint: 'f2' },
          },
          sequence: 5,
          event: { type: 'device.removed' },
        });
        expect(await stateAt(platformReader, deviceX, '2025-01-01T05:00:00+01:00')).toMatchObject({
          exists: false,
          sequence: 5,
          asOf: at(240),
        });
        expect(await stateAt(platformReader, deviceX, at(10_000))).toMatchObject({
          exists: true,
          state: { name: 'gw-new', site: 'ams' },
          sequence: 6,
          event: { type: 'device.restored' },
        });
      },
    );

    it.runIf(enabled)(
      "folds only the caller's tenant's events, and shows nothing of another tenant",
      async () => {
        expect(await stateAt(auditorB, deviceX, at(10_000))).toBeNull();
        expect(await stateAt(auditKeyB, deviceX, at(10_000))).toBeNull();
        expect(await stateAt(platformReader, mixed, at(10_000))).toMatchObject({
          state: { owner: tenantB },
          sequence: 3,
          tenantId: tenantB,
        });
        expect(await stateAt(auditorA, mixed, at(10_000))).toMatchObject({
          state: { owner: tenantA },
          sequence: 1,
          tenantId: tenantA,
        });
        expect(await stateAt(auditKeyB, mixed, at(10_000))).toMatchObject({ sequence: 3, tenantId: tenantB });
      },
    );

    it.runIf(enabled)('refuses a moment that is not an ISO 8601 date-time with an offset', async () => {
      for (const asOf of ['now', '2025-01-01', '2025-01-01T00:00:00', '2025-02-29T00:00:00Z']) {
        expectBadInput(await run(platformReader, AT, { type: 'device', id: deviceX, asOf }), 'asOf');
      }
    });
  });

  describe('entityDiff', () => {
    const diff = async (principal: Principal, from: string, to: string) => {
      const result = await run(principal, DIFF, { type: 'device', id: deviceX, from, to });
      expectAllowed(result);
      return (result.data as { entityDiff: Record<string, unknown> | null }).entityDiff;
    };

    it.runIf(enabled)('lists the fields that differ between two moments, deep into objects', async () => {
      const result = await diff(auditorA, at(200), at(230));
      expect(result).toMatchObject({
        before: { sequence: 1, exists: true },
        after: { sequence: 4, exists: true },
      });
      expect(result!.changes).toEqual([
        { path: 'name', before: 'gw', after: 'gw-ams' },
        { path: 'site', before: 'ams', after: 'rtm' },
        { path: 'tags', before: ['a'], after: ['a', 'b'] },
        { path: 'tls.fingerprint', before: 'f1', after: 'f2' },
      ]);
      expect((await diff(auditorA, at(230), at(245)))!).toMatchObject({
        before: { exists: true },
        after: { exists: false, event: { type: 'device.removed' } },
        changes: [],
      });
    });

    it.runIf(enabled)(
      'starts from nothing before the first event, and is null with no event by either moment',
      async () => {
        const result = await diff(platformReader, at(100), at(200));
        expect(result).toMatchObject({ before: null, after: { sequence: 1 } });
        expect(result!.changes).toEqual([
          { path: 'name', before: null, after: 'gw' },
          { path: 'site', before: null, after: 'ams' },
          { path: 'tags', before: null, after: ['a'] },
          { path: 'tls', before: null, after: { mode: 'pinned', fingerprint: 'f1' } },
        ]);
        expect(await diff(platformReader, at(10), at(20))).toBeNull();
        expect(await diff(auditorB, at(200), at(10_000))).toBeNull();
        expect(await diff(platformReader, at(230), at(230))).toMatchObject({ changes: [] });
      },
    );

    it.runIf(enabled)('refuses moments out of order or malformed', async () => {
      const args = { type: 'device', id: deviceX };
      expectBadInput(await run(platformReader, DIFF, { ...args, from: at(231), to: at(230) }), 'from');
      expectBadInput(await run(platformReader, DIFF, { ...args, from: 'then', to: at(230) }), 'from');
      expectBadInput(
        await run(platformReader, DIFF, { ...args, from: at(1), to: '2025-01-01T00:00Z ' }),
        'to',
      );
    });
  });

  describe('Device.history', () => {
    const DEVICE_HISTORY =
      'query($id: ID!) { _entities(representations: [{ __typename: "Device", id: $id }]) { ... on Device { history { sequence } } } }';
    const historyOf = async (principal: Principal, id: string) => {
      const result = await run(principal, DEVICE_HISTORY, { id });
      expectAllowed(result);
      return (result.data as { _entities: { history: { sequence: number }[] }[] })._entities[0]!.history.map(
        (event) => event.sequence,
      );
    };

    it.runIf(enabled)(
      "keeps serving a device's history in sequence order, in the caller's scope",
      async () => {
        expect(await historyOf(auditorA, deviceX)).toEqual([1, 2, 3, 4, 5, 6]);
        expect(await historyOf(auditorA, mixed)).toEqual([1]);
        expect(await historyOf(platformReader, mixed)).toEqual([1, 2, 3]);
        expect(await historyOf(viewerA, deviceX)).toEqual([]);
      },
    );
  });
});
