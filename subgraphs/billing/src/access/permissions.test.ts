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
import type { BillingDatabase } from '../database/schema.js';
import { manualProvider } from '../payments/manual/manual-provider.js';
import { PlanCatalog } from '../plans/plan-catalog.js';
import { resolvers, type BillingContext } from '../resolvers.js';
import { Subscriptions } from '../subscriptions/subscriptions.js';
import { setUpInvoicing } from '../invoices/invoicing.js';
import type { InvoiceServices } from '../invoices/invoice-resolvers.js';
import { permissions, rules } from './permissions.js';

/**
 * The billing subgraph's own authorization, on its real schema and resolvers over a real (PGlite)
 * database: the catalogue is for anyone signed in, a tenant's plan only for its billing people
 * and platform readers, and nothing the rules do not name for anyone.
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
const billingA = user(tenantA, ['tenant:read', 'billing:read', 'billing:write']);
const platformReader = user(randomUUID(), ['platform:read', 'tenant:read', 'members:read', 'devices:read']);
const platformAdmin = user(randomUUID(), ['platform:admin']);
const readerKeyB = apiKey(tenantB, ['billing:read']);
const writerKeyB = apiKey(tenantB, ['billing:read', 'billing:write']);

const PLANS = '{ plans { id name deviceQuota priceMinor currency } }';
const PLAN = '{ plan(id: "pro") { id name } }';
const TENANT_PLAN =
  'query($t: ID!) { _entities(representations: [{ __typename: "Tenant", id: $t }]) { ... on Tenant { id plan { id } } } }';
const TENANT_KEY =
  'query($t: ID!) { _entities(representations: [{ __typename: "Tenant", id: $t }]) { ... on Tenant { id } } }';
const CHANGE = 'mutation($t: ID!, $p: ID!) { changeTenantPlan(tenantId: $t, planId: $p) { id plan { id } } }';

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

describe('the billing permissions', () => {
  let dir: string;
  let database: Database<BillingDatabase>;
  let catalog: PlanCatalog;
  let subscriptions: Subscriptions;
  let invoices: InvoiceServices;
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
    const contextValue: BillingContext = { plans: catalog, subscriptions, invoices, request };
    return graphql({ schema, source, variableValues, contextValue });
  };

  const planOf = async (tenantId: string) => (await subscriptions.get(tenantId)).plan.id;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'billing-permissions-'));
    database = await openDatabase<BillingDatabase>({ url: undefined, dataDir: dir, migrations, logger });
    catalog = new PlanCatalog(database.db, () => undefined);
    subscriptions = new Subscriptions({
      db: database.db,
      provider: manualProvider,
      // No devices behind this schema: nothing to hold a quota against.
      entitlements: { enforce: () => Promise.resolve(), notify: () => undefined },
      onEvent: () => undefined,
    });
    // No audit behind this schema either: its workers never start.
    invoices = setUpInvoicing({
      db: database.db,
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
    }).services;
    schema = applyMiddleware(buildSubgraphSchema([{ typeDefs, resolvers }]), permissions);
  });

  afterAll(async () => {
    await database?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses anonymous callers everything but _service', async () => {
    const service = await run(ANONYMOUS, '{ _service { sdl } }');
    expectAllowed(service);
    expect(service.data).toEqual({ _service: { sdl: expect.stringContaining('type Plan') } });
    for (const query of [PLANS, PLAN]) expectForbidden(await run(ANONYMOUS, query));
    expectForbidden(await run(ANONYMOUS, TENANT_KEY, { t: tenantA }));
    expectForbidden(await run(ANONYMOUS, TENANT_PLAN, { t: tenantA }));
    expectForbidden(await run(ANONYMOUS, CHANGE, { t: tenantA, p: 'pro' }));
    expect(await planOf(tenantA)).toBe('free');
  });

  it('shows the catalogue to anyone signed in, API keys included', async () => {
    for (const principal of [viewerA, billingA, platformReader, readerKeyB]) {
      const plans = await run(principal, PLANS);
      expectAllowed(plans);
      expect((plans.data as { plans: { id: string }[] }).plans.map((p) => p.id)).toEqual([
        'free',
        'pro',
        'enterprise',
      ]);
      const plan = await run(principal, PLAN);
      expectAllowed(plan);
      expect(plan.data).toEqual({ plan: { id: 'pro', name: 'Pro' } });
    }
  });

  it("keeps a tenant's plan from a member without billing:read", async () => {
    expectForbidden(await run(viewerA, TENANT_PLAN, { t: tenantA }));
    expectForbidden(await run(viewerA, CHANGE, { t: tenantA, p: 'pro' }));
    // A key is only a key: the caller sent it.
    expectAllowed(await run(viewerA, TENANT_KEY, { t: tenantA }));
    expect(await planOf(tenantA)).toBe('free');
  });

  it("lets a tenant's billing member read and change its own plan only", async () => {
    const own = await run(billingA, TENANT_PLAN, { t: tenantA });
    expectAllowed(own);
    expect(own.data).toEqual({ _entities: [{ id: tenantA, plan: { id: 'free' } }] });
    const changed = await run(billingA, CHANGE, { t: tenantA, p: 'pro' });
    expectAllowed(changed);
    expect(changed.data).toEqual({ changeTenantPlan: { id: tenantA, plan: { id: 'pro' } } });

    expectForbidden(await run(billingA, TENANT_PLAN, { t: tenantB }));
    expectForbidden(await run(billingA, CHANGE, { t: tenantB, p: 'enterprise' }));
    expect(await planOf(tenantB)).toBe('free');
  });

  it("lets a platform reader read every tenant's plan, but not change it", async () => {
    for (const tenant of [tenantA, tenantB])
      expectAllowed(await run(platformReader, TENANT_PLAN, { t: tenant }));
    expectForbidden(await run(platformReader, CHANGE, { t: tenantB, p: 'enterprise' }));
    expect(await planOf(tenantB)).toBe('free');
  });

  it('holds an API key to its scopes in its tenant', async () => {
    expectAllowed(await run(readerKeyB, TENANT_PLAN, { t: tenantB }));
    expectForbidden(await run(readerKeyB, TENANT_PLAN, { t: tenantA }));
    expectForbidden(await run(readerKeyB, CHANGE, { t: tenantB, p: 'enterprise' }));
    expect(await planOf(tenantB)).toBe('free');

    expectAllowed(await run(writerKeyB, CHANGE, { t: tenantB, p: 'enterprise' }));
    expect(await planOf(tenantB)).toBe('enterprise');
    const before = await planOf(tenantA);
    expectForbidden(await run(writerKeyB, CHANGE, { t: tenantA, p: 'enterprise' }));
    expect(await planOf(tenantA)).toBe(before);
  });

  const PLAN_INPUT = {
    name: 'Team',
    deviceQuota: 25,
    rateLimitTier: 'standard',
    priceMinor: 1900,
    deviceDayPriceMinor: 4,
    currency: 'EUR',
    trialDays: 7,
    available: true,
  };
  const CREATE_PLAN =
    'mutation($id: ID!, $input: PlanInput!) { createPlan(id: $id, input: $input) { id name deviceQuota priceMinor } }';
  const UPDATE_PLAN =
    'mutation($id: ID!, $input: PlanInput!) { updatePlan(id: $id, input: $input) { id priceMinor } }';
  const SUBSCRIPTION =
    'query($t: ID!) { _entities(representations: [{ __typename: "Tenant", id: $t }]) { ... on Tenant { subscription { status plan { id } provider } } } }';
  const CANCEL = 'mutation($t: ID!) { cancelSubscription(tenantId: $t) { id } }';

  it('lets only platform administrators make and change plans', async () => {
    for (const principal of [billingA, writerKeyB, platformReader])
      expectForbidden(await run(principal, CREATE_PLAN, { id: 'team', input: PLAN_INPUT }));
    expect(await catalog.get('team')).toBeUndefined();
    const created = await run(platformAdmin, CREATE_PLAN, { id: 'team', input: PLAN_INPUT });
    expectAllowed(created);
    expect(created.data).toEqual({
      createPlan: { id: 'team', name: 'Team', deviceQuota: 25, priceMinor: 1900 },
    });
    expectForbidden(
      await run(billingA, UPDATE_PLAN, { id: 'team', input: { ...PLAN_INPUT, priceMinor: 1 } }),
    );
    expect((await catalog.get('team'))?.price_minor).toBe(1900);
    expectAllowed(
      await run(platformAdmin, UPDATE_PLAN, { id: 'team', input: { ...PLAN_INPUT, priceMinor: 2100 } }),
    );
    expect((await catalog.get('team'))?.price_minor).toBe(2100);
  });

  it("shows a tenant's subscription to its billing people and platform readers, and lets billing:write cancel it", async () => {
    const tenant = randomUUID();
    const billing = user(tenant, ['tenant:read', 'billing:read', 'billing:write']);
    expectAllowed(await run(billing, CHANGE, { t: tenant, p: 'pro' }));
    for (const principal of [billing, platformReader]) {
      const read = await run(principal, SUBSCRIPTION, { t: tenant });
      expectAllowed(read);
      expect(read.data).toEqual({
        _entities: [{ subscription: { status: 'TRIALING', plan: { id: 'pro' }, provider: 'manual' } }],
      });
    }
    expectForbidden(await run(billingA, SUBSCRIPTION, { t: tenant }));
    expectForbidden(await run(viewerA, SUBSCRIPTION, { t: tenantA }));
    expectForbidden(await run(billingA, CANCEL, { t: tenant }));
    expectForbidden(await run(platformReader, CANCEL, { t: tenant }));
    expect(await planOf(tenant)).toBe('pro');
    expectAllowed(await run(billing, CANCEL, { t: tenant }));
    expect(await planOf(tenant)).toBe('free');
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
        plans: catalog,
        subscriptions,
        invoices,
        request: { caller: 'gateway', principal: platformAdmin, requestId: 'r', clientAddress: '', logger },
      },
    });
    expectForbidden(result);
    expect(result.data).toEqual({ unlisted: null, secret: null });
    expect(JSON.stringify(result)).not.toContain('leaked');
  });
});
