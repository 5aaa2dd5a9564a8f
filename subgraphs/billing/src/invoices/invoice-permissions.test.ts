import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { graphql, parse, type ExecutionResult, type GraphQLSchema } from 'graphql';
import { applyMiddleware } from 'graphql-middleware';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANONYMOUS, createLogger, type Engine, type Principal, type SignedRequest } from '@fleet/service-kit';
import {
  openBillingTestDatabase,
  type BillingTestDatabase,
} from '../../../../test/support/billing-database.js';
import { postgresSuiteEnabled } from '../../../../test/support/postgres.js';
import { scopesOf } from '../../../aaa/src/access/roles.js';
import { permissions } from '../access/permissions.js';
import { manualProvider } from '../payments/manual/manual-provider.js';
import { PlanCatalog } from '../plans/plan-catalog.js';
import { resolvers, type BillingContext } from '../resolvers.js';
import { Subscriptions } from '../subscriptions/subscriptions.js';
import type { InvoiceServices } from './invoice-resolvers.js';
import { setUpInvoicing } from './invoicing.js';

/**
 * Who sees usage and invoices, on billing's real schema, resolvers and rules over a real
 * database, with people holding the scopes aaa's roles grant: a tenant's owners and billing
 * people see its invoices, its admins and operators do not, another tenant's people never, and
 * platform readers see all; only platform admins issue invoices and record payments.
 */

const engines: { engine: Engine; enabled: boolean }[] = [
  { engine: 'pglite', enabled: true },
  { engine: 'postgres', enabled: await postgresSuiteEnabled() },
];

const logger = createLogger({ service: 'test', level: 'silent' });
const typeDefs = parse(readFileSync(new URL('../../schema.graphql', import.meta.url), 'utf8'));

const tenantA = randomUUID();
const tenantB = randomUUID();
const platform = randomUUID();

function member(tenantId: string, role: string): Principal {
  return {
    kind: 'user',
    userId: randomUUID(),
    tenantId,
    roles: [role],
    scopes: scopesOf([role]),
    sessionId: randomUUID(),
  };
}

const ownerA = member(tenantA, 'owner');
const billingA = member(tenantA, 'billing');
const adminA = member(tenantA, 'admin');
const operatorA = member(tenantA, 'operator');
const ownerB = member(tenantB, 'owner');
const platformOperator = member(platform, 'platform-operator');
const platformAdmin = member(platform, 'platform-admin');
const invoiceKeyA: Principal = {
  kind: 'apiKey',
  keyId: randomUUID(),
  tenantId: tenantA,
  scopes: ['invoices:read'],
};

const INVOICE =
  'query($id: ID!) { invoice(id: $id) { id tenantId period status totalMinor lines { kind amountMinor } } }';
const INVOICES = `query($t: ID!, $first: Int, $after: String) {
  _entities(representations: [{ __typename: "Tenant", id: $t }]) {
    ... on Tenant { invoices(first: $first, after: $after) { edges { cursor node { id period status } } pageInfo { hasNextPage endCursor } } }
  } }`;
const USAGE = `query($t: ID!, $m: String) {
  _entities(representations: [{ __typename: "Tenant", id: $t }]) { ... on Tenant { usage(month: $m) { month deviceDays devices } } } }`;
const ISSUE = 'mutation($p: String!) { issueInvoices(period: $p) { period issued } }';
const PAY = 'mutation($id: ID!) { markInvoicePaid(invoiceId: $id) { id status paidAt } }';

type Invoices = {
  _entities: {
    invoices: {
      edges: { cursor: string; node: { id: string; period: string } }[];
      pageInfo: { hasNextPage: boolean; endCursor: string | null };
    };
  }[];
};

function codesOf(result: ExecutionResult): string[] {
  return (result.errors ?? []).map((error) => String(error.extensions.code));
}

function expectAllowed(result: ExecutionResult): void {
  expect(result.errors, JSON.stringify(result.errors)).toBeUndefined();
}

describe.each(engines)('who sees usage and invoices, on $engine', ({ engine, enabled }) => {
  let billing: BillingTestDatabase;
  let schema: GraphQLSchema;
  let plans: PlanCatalog;
  let subscriptions: Subscriptions;
  let invoices: InvoiceServices;
  let clock = new Date('2026-03-01T00:00:00Z');
  /** A's invoices, oldest first; B's March invoice. */
  const ids: { a: string[]; b: string } = { a: [], b: '' };

  const run = (principal: Principal, source: string, variableValues: Record<string, unknown> = {}) => {
    const request: SignedRequest = {
      caller: 'gateway',
      principal,
      requestId: randomUUID(),
      clientAddress: '',
      logger,
    };
    const contextValue: BillingContext = { plans, subscriptions, invoices, request };
    return graphql({ schema, source, variableValues, contextValue });
  };

  beforeAll(async () => {
    if (!enabled) return;
    billing = await openBillingTestDatabase(engine);
    const db = billing.database.db;
    const now = () => clock;
    plans = new PlanCatalog(db, () => undefined);
    subscriptions = new Subscriptions({
      db,
      provider: manualProvider,
      entitlements: { enforce: () => Promise.resolve(), notify: () => undefined },
      onEvent: () => undefined,
      now,
    });
    invoices = setUpInvoicing({
      db,
      // No audit here: the workers never start, the presence is written as the meter writes it.
      config: {
        AUDIT_URL: 'http://127.0.0.1:9',
        KEY_AUDIT: Buffer.alloc(32),
        USAGE_POLL_INTERVAL_S: 60,
        INVOICE_INTERVAL_S: 3_600,
        INVOICE_DUE_DAYS: 14,
      },
      logger,
      tls: undefined,
      subscriptions,
      providers: [manualProvider],
      onEvent: () => undefined,
      now,
    }).services;
    schema = applyMiddleware(buildSubgraphSchema([{ typeDefs, resolvers }]), permissions);

    for (const tenantId of [tenantA, tenantB]) {
      await db
        .insertInto('subscription')
        .values({
          tenant_id: tenantId,
          plan_id: 'free',
          status: 'active',
          provider: 'manual',
          trial_used: true,
        })
        .execute();
      await subscriptions.changePlan(tenantId, 'pro', { kind: 'user', id: randomUUID() }, 'caller');
    }
    await db
      .insertInto('device_presence')
      .values({
        device_id: randomUUID(),
        tenant_id: tenantA,
        present_from: new Date('2026-03-10T00:00:00Z'),
        present_until: null,
      })
      .execute();
    for (const [period, at] of [
      ['2026-03', '2026-04-01T00:10:00Z'],
      ['2026-04', '2026-05-01T00:10:00Z'],
      ['2026-05', '2026-06-01T00:10:00Z'],
    ] as const) {
      clock = new Date(at);
      const issued = await run(platformAdmin, ISSUE, { p: period });
      expectAllowed(issued);
      expect(issued.data).toEqual({ issueInvoices: { period, issued: 2 } });
    }
    const rows = await db.selectFrom('invoice').select(['id', 'tenant_id']).orderBy('period').execute();
    ids.a = rows.filter((r) => r.tenant_id === tenantA).map((r) => r.id);
    ids.b = rows.find((r) => r.tenant_id === tenantB)!.id;
    clock = new Date('2026-06-15T12:00:00Z');
  });

  afterAll(async () => {
    await billing?.close();
  });

  it.runIf(enabled)(
    "shows a tenant's invoices to its owners and billing people, newest first, page by page",
    async () => {
      for (const principal of [ownerA, billingA, invoiceKeyA]) {
        const one = await run(principal, INVOICE, { id: ids.a[0] });
        expectAllowed(one);
        expect(one.data).toEqual({
          invoice: {
            id: ids.a[0],
            tenantId: tenantA,
            period: '2026-03',
            status: 'OPEN',
            // All of March on Pro, and the device on 22 days of it.
            totalMinor: 4_900 + 22 * 5,
            lines: [
              { kind: 'PLAN_FEE', amountMinor: 4_900 },
              { kind: 'DEVICE_USAGE', amountMinor: 110 },
            ],
          },
        });
        const first = await run(principal, INVOICES, { t: tenantA, first: 2 });
        expectAllowed(first);
        const page = (first.data as Invoices)._entities[0]!.invoices;
        expect(page.edges.map((e) => e.node.period)).toEqual(['2026-05', '2026-04']);
        expect(page.pageInfo).toEqual({ hasNextPage: true, endCursor: page.edges[1]!.cursor });
        const next = await run(principal, INVOICES, { t: tenantA, first: 2, after: page.pageInfo.endCursor });
        expectAllowed(next);
        expect((next.data as Invoices)._entities[0]!.invoices).toEqual({
          edges: [{ cursor: expect.any(String), node: { id: ids.a[0], period: '2026-03', status: 'OPEN' } }],
          pageInfo: { hasNextPage: false, endCursor: expect.any(String) },
        });
      }
    },
  );

  it.runIf(enabled)(
    "keeps a tenant's invoices from its admins and operators, and from anonymous callers",
    async () => {
      expect(codesOf(await run(ANONYMOUS, INVOICE, { id: ids.a[0] }))).toEqual(['FORBIDDEN']);
      expect(codesOf(await run(ANONYMOUS, INVOICES, { t: tenantA }))).toEqual(['FORBIDDEN']);
      expect(codesOf(await run(ANONYMOUS, USAGE, { t: tenantA }))).toEqual(['FORBIDDEN']);
      for (const principal of [adminA, operatorA]) {
        const one = await run(principal, INVOICE, { id: ids.a[0] });
        expectAllowed(one);
        expect(one.data).toEqual({ invoice: null });
        expect(codesOf(await run(principal, INVOICES, { t: tenantA }))).toEqual(['FORBIDDEN']);
      }
    },
  );

  it.runIf(enabled)("answers another tenant's invoice as an unknown one, and refuses its list", async () => {
    for (const principal of [ownerB, { ...invoiceKeyA, tenantId: tenantB } as Principal]) {
      const other = await run(principal, INVOICE, { id: ids.a[0] });
      expectAllowed(other);
      expect(other.data).toEqual({ invoice: null });
      expect(codesOf(await run(principal, INVOICES, { t: tenantA }))).toEqual(['FORBIDDEN']);
    }
    expect((await run(ownerB, INVOICE, { id: randomUUID() })).data).toEqual({ invoice: null });
    expect((await run(ownerB, INVOICE, { id: 'not-an-id' })).data).toEqual({ invoice: null });
    // Its own, still.
    expect((await run(ownerB, INVOICE, { id: ids.b })).data).toMatchObject({ invoice: { id: ids.b } });
  });

  it.runIf(enabled)(
    'shows every invoice to platform readers, who may neither issue nor record payments',
    async () => {
      expectAllowed(await run(platformOperator, INVOICE, { id: ids.a[0] }));
      expect((await run(platformOperator, INVOICE, { id: ids.b })).data).toMatchObject({
        invoice: { id: ids.b },
      });
      expectAllowed(await run(platformOperator, INVOICES, { t: tenantB }));
      for (const principal of [platformOperator, ownerA, billingA]) {
        expect(codesOf(await run(principal, ISSUE, { p: '2026-05' }))).toEqual(['FORBIDDEN']);
        expect(codesOf(await run(principal, PAY, { id: ids.a[0] }))).toEqual(['FORBIDDEN']);
      }
      expect((await run(ownerA, INVOICE, { id: ids.a[0] })).data).toMatchObject({
        invoice: { status: 'OPEN' },
      });
    },
  );

  it.runIf(enabled)('lets a platform admin record a payment, with refusals that say why', async () => {
    const paid = await run(platformAdmin, PAY, { id: ids.a[1] });
    expectAllowed(paid);
    expect(paid.data).toEqual({
      markInvoicePaid: { id: ids.a[1], status: 'PAID', paidAt: clock.toISOString() },
    });
    const again = await run(platformAdmin, PAY, { id: ids.a[1] });
    expect(codesOf(again)).toEqual(['CONFLICT']);
    expect(again.errors![0]!.message).toContain('paid already');
    expect(codesOf(await run(platformAdmin, PAY, { id: randomUUID() }))).toEqual(['NOT_FOUND']);
    const malformed = await run(platformAdmin, ISSUE, { p: '2026-5' });
    expect(codesOf(malformed)).toEqual(['BAD_USER_INPUT']);
    expect(malformed.errors![0]!.extensions.field).toBe('period');
    const open = await run(platformAdmin, ISSUE, { p: '2026-06' });
    expect(codesOf(open)).toEqual(['BAD_USER_INPUT']);
    expect(open.errors![0]!.message).toBe(
      '2026-06 is not over yet: a month is invoiced once it has ended (the last one is 2026-05)',
    );
  });

  it.runIf(enabled)("shows a tenant's usage to its billing readers and the platform's", async () => {
    for (const principal of [ownerA, billingA, adminA, platformOperator]) {
      const usage = await run(principal, USAGE, { t: tenantA, m: '2026-03' });
      expectAllowed(usage);
      expect(usage.data).toEqual({
        _entities: [{ usage: { month: '2026-03', deviceDays: 22, devices: 1 } }],
      });
    }
    // The current month so far (the clock is at noon on 2026-06-15).
    expect((await run(ownerA, USAGE, { t: tenantA })).data).toEqual({
      _entities: [{ usage: { month: '2026-06', deviceDays: 15, devices: 1 } }],
    });
    for (const principal of [operatorA, ownerB])
      expect(codesOf(await run(principal, USAGE, { t: tenantA }))).toEqual(['FORBIDDEN']);
    const malformed = await run(ownerA, USAGE, { t: tenantA, m: 'March' });
    expect(codesOf(malformed)).toEqual(['BAD_USER_INPUT']);
  });
});
