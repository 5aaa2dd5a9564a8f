import { randomUUID } from 'node:crypto';
import type { Principal } from '@fleet/service-kit';
import type { AuditFleet, Device } from './audit-fleet.js';

const EVENT = `fragment Event on AuditEvent {
  id position source aggregateType aggregateId sequence type tenantId actor { kind id }
  occurredAt recordedAt payload previousHash hash
}`;

/** What an audit screen asks for: a page of 50 whole events, as a list or an entity's history. */
export const LIST = `query List($filter: AuditEventFilter, $after: String) {
  auditEvents(filter: $filter, first: 50, after: $after) {
    edges { cursor node { ...Event } } pageInfo { hasNextPage endCursor }
  }
} ${EVENT}`;
const HISTORY = `query History($type: String!, $id: ID!) {
  entityHistory(entityType: $type, entityId: $id, first: 50) {
    edges { cursor node { ...Event } } pageInfo { hasNextPage endCursor }
  }
} ${EVENT}`;
const AT = `query At($type: String!, $id: ID!, $asOf: String!) {
  entityAt(entityType: $type, entityId: $id, asOf: $asOf) {
    entityType entityId asOf exists state sequence tenantId event { ...Event }
  }
} ${EVENT}`;

export interface EventNode {
  id: string;
  position: string;
  aggregateType: string;
  aggregateId: string;
  sequence: number;
  type: string;
  tenantId: string | null;
  actor: { kind: string; id: string | null };
  occurredAt: string;
}

export interface EventPage {
  edges: { cursor: string; node: EventNode }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

/** A cursor the service made (an edge of a list), and the position it stands at. */
export interface DeepCursor {
  cursor: string;
  position: number;
  tenantId: string;
}

/** One request of a shape: what to send, for whom, and how to tell a right answer. */
export interface ShapeRequest {
  principal: Principal;
  query: string;
  variables: Record<string, unknown>;
  /** A problem with the answer, or undefined; `rows` is what it held (for the table). */
  check(data: unknown): { problem?: string; rows: number };
}

export interface Shape {
  name: string;
  reader: 'platform reader' | 'tenant auditor';
  next(): ShapeRequest;
}

export interface ShapeData {
  fleet: AuditFleet;
  /** Deep cursors, by tenant, each from an event of that tenant months back. */
  cursors: ReadonlyMap<string, readonly DeepCursor[]>;
  /** The span the history (not the ingest runs) occurred in, ms since the epoch. */
  from: number;
  to: number;
  random: () => number;
}

const DAY_MS = 86_400_000;
const TYPES = [
  'device.updated',
  'device.removed',
  'device.restored',
  'login.succeeded',
  'subscription.plan_changed',
];

/** A platform operator who may read every tenant's events. */
export const PLATFORM_READER: Principal = {
  kind: 'user',
  userId: randomUUID(),
  tenantId: null,
  roles: ['platform-operator'],
  scopes: ['platform:read', 'tenant:read', 'audit:read'],
  sessionId: randomUUID(),
};

/** A tenant's auditor: audit:read in that tenant only. */
function auditorOf(tenantId: string, userId: string): Principal {
  return {
    kind: 'user',
    userId,
    tenantId,
    roles: ['auditor'],
    scopes: ['tenant:read', 'audit:read'],
    sessionId: randomUUID(),
  };
}

/**
 * The query shapes measured, for a platform reader and for a tenant's auditor (a random tenant
 * each request). Each answer is checked against what the log holds: every node matches the
 * filter and the caller's tenant, an entity's history is whole and in order, a state at a moment
 * exists exactly when the entity had an event by then.
 */
export function querySpecs(data: ShapeData): Shape[] {
  const { fleet, random } = data;
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)]!;
  const withHistory = fleet.devices.filter((device) => device.sequence > 0);
  const devicesOf = new Map<string, Device[]>();
  for (const device of withHistory)
    devicesOf.set(device.tenantId, [...(devicesOf.get(device.tenantId) ?? []), device]);
  const tenants = fleet.tenants.filter((tenant) => data.cursors.has(tenant));
  const auditors = new Map(
    fleet.tenants.map((tenant) => [tenant, auditorOf(tenant, fleet.peopleOf(tenant)[0]?.id ?? randomUUID())]),
  );
  const deviceOf = (tenantId?: string): Device => pick(tenantId ? devicesOf.get(tenantId)! : withHistory);
  const dayMonthsBack = () => {
    const start =
      data.from + Math.floor(random() * Math.max(1, (data.to - data.from) / DAY_MS - 30)) * DAY_MS;
    return {
      occurredFrom: new Date(start).toISOString(),
      occurredTo: new Date(start + DAY_MS).toISOString(),
    };
  };

  /** A list's answer: every node satisfies `holds` (and the scope), and `nonEmpty` when it must. */
  const page =
    (scope: string | undefined, holds: (node: EventNode) => boolean, nonEmpty: boolean) =>
    (answer: unknown) => {
      const edges = (answer as { auditEvents: EventPage }).auditEvents.edges;
      if (nonEmpty && edges.length === 0) return { problem: 'an empty page', rows: 0 };
      const wrong = edges.find(
        ({ node }) => !holds(node) || (scope !== undefined && node.tenantId !== scope),
      );
      return {
        problem: wrong && `an event that does not match: ${JSON.stringify(wrong.node)}`,
        rows: edges.length,
      };
    };
  const list = (
    principal: Principal,
    scope: string | undefined,
    variables: Record<string, unknown>,
    holds: (node: EventNode) => boolean,
    nonEmpty = false,
  ): ShapeRequest => ({ principal, query: LIST, variables, check: page(scope, holds, nonEmpty) });

  const history = (principal: Principal, device: Device): ShapeRequest => ({
    principal,
    query: HISTORY,
    variables: { type: 'device', id: device.id },
    check: (answer) => {
      const edges = (answer as { entityHistory: EventPage }).entityHistory.edges;
      const expected = Math.min(50, device.sequence);
      const inOrder = edges.every(({ node }, i) => node.sequence === i + 1 && node.aggregateId === device.id);
      return {
        problem:
          edges.length !== expected || !inOrder
            ? `${edges.length} events in history, ${expected} expected in order`
            : undefined,
        rows: edges.length,
      };
    },
  });

  const at = (principal: Principal, device: Device): ShapeRequest => {
    const asOf = data.from + Math.floor(random() * (data.to - data.from));
    return {
      principal,
      query: AT,
      variables: { type: 'device', id: device.id, asOf: new Date(asOf).toISOString() },
      check: (answer) => {
        const state = (answer as { entityAt: { sequence: number; event: EventNode } | null }).entityAt;
        const expected = device.firstAt !== undefined && device.firstAt <= asOf;
        if (expected !== (state !== null))
          return { problem: `entityAt ${state ? 'found' : 'did not find'} the device`, rows: 0 };
        if (state && (Date.parse(state.event.occurredAt) > asOf || state.event.aggregateId !== device.id))
          return { problem: 'entityAt folded an event that occurred later', rows: 1 };
        return { rows: state ? 1 : 0 };
      },
    };
  };

  const deep = (principal: Principal, tenantId: string | undefined): ShapeRequest => {
    const cursor = pick(data.cursors.get(tenantId ?? pick(tenants))!);
    return list(
      principal,
      tenantId,
      { after: cursor.cursor },
      (node) => Number(node.position) < cursor.position,
      true,
    );
  };

  const platform = PLATFORM_READER;
  const auditor = () => {
    const tenantId = pick(tenants);
    return { tenantId, principal: auditors.get(tenantId)! };
  };
  const both = (name: string, make: (principal: Principal, tenantId?: string) => ShapeRequest): Shape[] => [
    { name, reader: 'platform reader', next: () => make(platform) },
    {
      name,
      reader: 'tenant auditor',
      next: () => {
        const { tenantId, principal } = auditor();
        return make(principal, tenantId);
      },
    },
  ];

  return [
    ...both('first page, no filter', (principal, tenantId) =>
      list(principal, tenantId, {}, () => true, true),
    ),
    ...both('deep cursor page', (principal, tenantId) => deep(principal, tenantId)),
    {
      name: 'by tenant',
      reader: 'platform reader',
      next: () => {
        const tenantId = pick(tenants);
        return list(
          platform,
          undefined,
          { filter: { tenantId } },
          (node) => node.tenantId === tenantId,
          true,
        );
      },
    },
    ...both('by actor id', (principal, tenantId) => {
      const actor = pick(tenantId ? fleet.peopleOf(tenantId) : fleet.people).id;
      return list(
        principal,
        tenantId,
        { filter: { actor: { id: actor } } },
        (node) => node.actor.id === actor,
      );
    }),
    ...both('by entity (type + id)', (principal, tenantId) => {
      const device = deviceOf(tenantId);
      return list(
        principal,
        tenantId,
        { filter: { entityType: 'device', entityId: device.id } },
        (node) => node.aggregateType === 'device' && node.aggregateId === device.id,
        true,
      );
    }),
    ...both('by event type', (principal, tenantId) => {
      const type = pick(TYPES);
      return list(principal, tenantId, { filter: { type } }, (node) => node.type === type);
    }),
    ...both('one day, months back', (principal, tenantId) => {
      const range = dayMonthsBack();
      const [from, to] = [Date.parse(range.occurredFrom), Date.parse(range.occurredTo)];
      return list(principal, tenantId, { filter: range }, (node) => {
        const time = Date.parse(node.occurredAt);
        return time >= from && time < to;
      });
    }),
    ...both('entityAt, random moment', (principal, tenantId) => at(principal, deviceOf(tenantId))),
    ...both('entityHistory', (principal, tenantId) => history(principal, deviceOf(tenantId))),
  ];
}
