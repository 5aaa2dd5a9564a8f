import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { gatewayConfigSpec, startGateway } from '@fleet/gateway';
import { createLogger, loadConfig, type StartedService } from '@fleet/service-kit';
import { addMember, bearer, signIn, type TestMember } from '../support/identities.js';
import { createTenant, startTestFederation, type TestFederation } from '../support/test-federation.js';

const REDIS_URL = 'redis://127.0.0.1:6379';

interface Response {
  status: number;
  headers: Headers;
  json: { data?: unknown; errors?: { message: string; extensions?: Record<string, unknown> }[] };
}

/**
 * Rate limits through real gateways: the federation's subgraphs, and gateways started here with
 * the budgets each case needs (two of them on one Redis, to show they share one budget).
 */
describe('rate limits', () => {
  let fleet: TestFederation;
  let tenantId: string;
  let otherTenantId: string;
  let alice: TestMember;
  let bob: TestMember;
  let carol: TestMember;
  const gateways: StartedService[] = [];

  beforeAll(async () => {
    fleet = await startTestFederation({ engine: 'pglite' });
    tenantId = await createTenant(fleet, 'Budget Corp', 'budget');
    otherTenantId = await createTenant(fleet, 'Other Corp', 'other');
    const member = (tenant: { id: string; slug: string }, email: string) =>
      addMember(fleet, tenant, { email, fullName: 'Member', roles: ['owner'] });
    alice = await member({ id: tenantId, slug: 'budget' }, 'alice@budget.example');
    bob = await member({ id: tenantId, slug: 'budget' }, 'bob@budget.example');
    carol = await member({ id: otherTenantId, slug: 'other' }, 'carol@other.example');
  });

  afterEach(async () => {
    await Promise.all(gateways.splice(0).map((gateway) => gateway.stop()));
  });

  afterAll(async () => {
    await fleet?.destroy();
  });

  /** A gateway in this process, in front of the federation's subgraphs, with these settings. */
  async function gateway(settings: Record<string, string>) {
    const logs: string[] = [];
    const env: Record<string, string> = {
      GATEWAY_PORT: '0',
      GATEWAY_TOKEN_KEYS: fleet.secrets['token-keys'],
      GATEWAY_LOG_LEVEL: 'info',
      ...fleet.tlsEnv('gateway'),
      ...settings,
    };
    for (const subgraph of ['aaa', 'devices', 'billing', 'audit'] as const) {
      env[`GATEWAY_${subgraph.toUpperCase()}_URL`] = `${fleet.url(subgraph)}/graphql`;
      env[`GATEWAY_KEY_${subgraph.toUpperCase()}`] = fleet.secrets[`gateway-${subgraph}`];
    }
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        logs.push(chunk.toString());
        done();
      },
    });
    const logger = createLogger({ service: 'gateway', level: 'info', destination });
    const started = await startGateway(loadConfig(gatewayConfigSpec, 'GATEWAY_', env), logger);
    gateways.push(started);
    const url = `https://127.0.0.1:${started.port}/graphql`;
    const post = async (body: unknown, headers: Record<string, string> = {}): Promise<Response> => {
      const response = await fleet.fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
      return {
        status: response.status,
        headers: response.headers,
        json: (await response.json()) as Response['json'],
      };
    };
    return { post, logs };
  }

  /** Settings for a run with its own counters in Redis, whatever ran before. */
  const onRedis = () => ({
    GATEWAY_REDIS_URL: REDIS_URL,
    GATEWAY_RATE_LIMIT_NAMESPACE: `test-${randomUUID()}`,
  });

  /** What is left of a budget, from the RateLimit header. */
  const remaining = (response: Response, policy: string): number => {
    const match = new RegExp(`"${policy}";r=(\\d+);t=(\\d+)`).exec(response.headers.get('ratelimit') ?? '');
    if (!match) throw new Error(`no "${policy}" budget in RateLimit: ${response.headers.get('ratelimit')}`);
    return Number(match[1]);
  };

  const codeOf = (response: Response) => response.json.errors?.[0]?.extensions?.code;

  const ME = { query: '{ me { id } }' };

  it('two gateways on one Redis share one budget per person', async () => {
    const shared = onRedis();
    // Find the cost of the probe operation from the budget it spends.
    const settings = {
      ...shared,
      GATEWAY_RATE_LIMIT_TIERS: 'test=1000000/1000000/1000000',
      GATEWAY_RATE_LIMIT_DEFAULT_TIER: 'test',
    };
    const scout = await gateway(settings);
    const token = (await signIn(fleet, alice)).accessToken;
    const first = await scout.post(ME, bearer(token));
    const second = await scout.post(ME, bearer(token));
    const cost = remaining(first, 'user') - remaining(second, 'user');
    expect(cost).toBeGreaterThan(0);
    await Promise.all(gateways.splice(0).map((g) => g.stop()));

    // A fresh namespace, and a budget of exactly five such operations per person.
    const budget = {
      ...onRedis(),
      GATEWAY_RATE_LIMIT_TIERS: `test=1000000/${5 * cost}/1000000`,
      GATEWAY_RATE_LIMIT_DEFAULT_TIER: 'test',
    };
    const a = await gateway(budget);
    const b = await gateway(budget);
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await (i % 2 === 0 ? a : b).post(ME, bearer(token))).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429, 429]);

    const requestId = `over-budget-${randomUUID()}`;
    const refused = await b.post(ME, { ...bearer(token), 'x-request-id': requestId });
    expect(refused.status).toBe(429);
    expect(codeOf(refused)).toBe('RATE_LIMITED');
    expect(refused.json.data ?? null).toBeNull();
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(refused.json.errors?.[0]?.extensions?.retryAfterSeconds).toBe(retryAfter);
    expect(refused.headers.get('ratelimit-policy')).toContain(`"user";q=${5 * cost};w=60`);
    expect(remaining(refused, 'user')).toBe(0);
    // Refused before planning: no subgraph saw the request.
    await new Promise((resolve) => setTimeout(resolve, 200));
    for (const subgraph of ['aaa', 'devices', 'billing', 'audit'] as const) {
      expect(fleet.logs(subgraph).some((line) => line.includes(requestId))).toBe(false);
    }

    // Another person is not affected.
    const other = await a.post(ME, bearer((await signIn(fleet, bob)).accessToken));
    expect(other.status).toBe(200);
  });

  it('charges an operation its estimated cost, not 1', async () => {
    const g = await gateway({});
    const token = (await signIn(fleet, alice)).accessToken;
    const before = await g.post(ME, bearer(token));
    const small = await g.post(ME, bearer(token));
    const list = await g.post({ query: '{ me { memberships { roles tenant { id } } } }' }, bearer(token));
    const after = await g.post(ME, bearer(token));
    const smallCost = remaining(before, 'user') - remaining(small, 'user');
    const listCost = remaining(small, 'user') - remaining(list, 'user');
    expect(smallCost).toBeGreaterThan(0);
    // Two fields, then a list the schema sizes (User.memberships is @listSize(assumedSize: 5))
    // with three fields inside: 1 + 1 + 3 × 5.
    expect(listCost).toBe(17);
    expect(remaining(list, 'user') - remaining(after, 'user')).toBe(smallCost);
    // Every response tells its budgets.
    expect(after.headers.get('ratelimit-policy')).toMatch(/"user";q=\d+;w=60, "tenant";q=\d+;w=60/);
  });

  it("a tenant's people share its budget; other tenants keep theirs", async () => {
    const g = await gateway({
      GATEWAY_RATE_LIMIT_TIERS: 'test=20/1000000/1000000',
      GATEWAY_RATE_LIMIT_DEFAULT_TIER: 'test',
    });
    const aliceToken = (await signIn(fleet, alice)).accessToken;
    const bobToken = (await signIn(fleet, bob)).accessToken;
    const carolToken = (await signIn(fleet, carol)).accessToken;
    let spentByAlice = 0;
    while ((await g.post(ME, bearer(aliceToken))).status === 200) spentByAlice++;
    expect(spentByAlice).toBeGreaterThan(0);
    const bobs = await g.post(ME, bearer(bobToken));
    expect(bobs.status).toBe(429);
    expect(bobs.headers.get('ratelimit')).toContain('"tenant";r=0');
    expect((await g.post(ME, bearer(carolToken))).status).toBe(200);
  });

  it('an API key has its own budget within its tenant', async () => {
    const g = await gateway({
      GATEWAY_RATE_LIMIT_TIERS: 'test=1000000/1000000/30',
      GATEWAY_RATE_LIMIT_DEFAULT_TIER: 'test',
    });
    const created = await fleet.graphql<{ createApiKey: { key: string } }>(
      'mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { key } }',
      {
        input: {
          tenantId,
          name: 'Partner',
          scopes: ['tenant:read'],
          expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
        },
      },
      bearer((await signIn(fleet, alice)).accessToken),
    );
    const key = { 'x-api-key': created.data!.createApiKey.key };
    const query = { query: 'query($t: ID!) { tenant(id: $t) { name } }', variables: { t: tenantId } };
    const statuses: number[] = [];
    for (let i = 0; i < 20 && statuses.at(-1) !== 429; i++) statuses.push((await g.post(query, key)).status);
    expect(statuses.at(-1)).toBe(429);
    expect(statuses.filter((status) => status === 200).length).toBeGreaterThan(0);
    const refused = await g.post(query, key);
    expect(refused.headers.get('ratelimit')).toContain('"api-key";r=0');
    // The people of the tenant still have theirs.
    expect((await g.post(ME, bearer((await signIn(fleet, alice)).accessToken))).status).toBe(200);
  });

  it('signing in has a small budget per address; X-Forwarded-For counts only from trusted proxies', async () => {
    const attempt = (g: Awaited<ReturnType<typeof gateway>>, headers: Record<string, string> = {}) =>
      g.post(
        {
          query: 'mutation($i: LoginInput!) { login(input: $i) { accessToken } }',
          variables: {
            i: {
              tenant: 'budget',
              email: `nobody-${randomUUID()}@budget.example`,
              password: 'not the password at all',
            },
          },
        },
        headers,
      );
    const direct = await gateway({ GATEWAY_RATE_LIMIT_SIGN_IN_REQUESTS: '3' });
    for (let i = 0; i < 3; i++) {
      expect(codeOf(await attempt(direct, { 'x-forwarded-for': `198.51.100.${i}` }))).not.toBe(
        'RATE_LIMITED',
      );
    }
    // No trusted proxy: a spoofed X-Forwarded-For changes nothing, the address is the connection's.
    const requestId = `spoofed-${randomUUID()}`;
    const spoofed = await attempt(direct, { 'x-forwarded-for': '203.0.113.77', 'x-request-id': requestId });
    expect(spoofed.status).toBe(429);
    expect(codeOf(spoofed)).toBe('RATE_LIMITED');
    expect(spoofed.headers.get('ratelimit')).toContain('"sign-in";r=0');
    // Refused at the gateway: aaa never saw it.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(fleet.logs('aaa').some((line) => line.includes(requestId))).toBe(false);

    // Behind one trusted proxy, the address the proxy appended is the client's.
    const proxied = await gateway({
      GATEWAY_RATE_LIMIT_SIGN_IN_REQUESTS: '3',
      GATEWAY_TRUSTED_PROXY_HOPS: '1',
    });
    for (let i = 0; i < 3; i++) {
      expect(codeOf(await attempt(proxied, { 'x-forwarded-for': '198.51.100.9' }))).not.toBe('RATE_LIMITED');
    }
    expect(codeOf(await attempt(proxied, { 'x-forwarded-for': '198.51.100.9' }))).toBe('RATE_LIMITED');
    // A client cannot escape by prepending addresses: only the proxy's entry counts.
    expect(codeOf(await attempt(proxied, { 'x-forwarded-for': '10.9.9.9, 198.51.100.9' }))).toBe(
      'RATE_LIMITED',
    );
    expect(codeOf(await attempt(proxied, { 'x-forwarded-for': '198.51.100.10' }))).not.toBe('RATE_LIMITED');
  });

  it('counts every request per address before reading it, credentials or not', async () => {
    const g = await gateway({ GATEWAY_RATE_LIMIT_ADDRESS_REQUESTS: '3' });
    const garbage = { authorization: 'Bearer not-a-token' };
    for (let i = 0; i < 3; i++) expect((await g.post(ME, garbage)).status).toBe(401);
    const refused = await g.post('{ this is not even json', garbage);
    expect(refused.status).toBe(429);
    expect(codeOf(refused)).toBe('RATE_LIMITED');
    expect(refused.headers.get('ratelimit')).toContain('"address";r=0');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });

  it('without Redis, refuses by default, or counts in memory, or admits, as configured, and says so', async () => {
    // A loopback port where nothing listens; a password that must never be logged.
    const unreachable = {
      GATEWAY_REDIS_URL: 'redis://:hunter2-redis-password@127.0.0.1:9',
      GATEWAY_RATE_LIMIT_NAMESPACE: 'unreachable',
    };
    const token = (await signIn(fleet, alice)).accessToken;

    const closed = await gateway(unreachable);
    const refused = await closed.post(ME, bearer(token));
    expect(refused.status).toBe(503);
    expect(codeOf(refused)).toBe('SERVICE_UNAVAILABLE');
    expect(refused.headers.get('retry-after')).toBe('5');
    expect(closed.logs.join('')).toContain(
      'rate-limit store (Redis) unreachable: refusing every request (503) until it is back',
    );

    const memory = await gateway({
      ...unreachable,
      GATEWAY_RATE_LIMIT_STORE_FAILURE: 'memory',
      GATEWAY_RATE_LIMIT_ADDRESS_REQUESTS: '2',
    });
    expect((await memory.post(ME, bearer(token))).status).toBe(200);
    expect((await memory.post(ME, bearer(token))).status).toBe(200);
    expect((await memory.post(ME, bearer(token))).status).toBe(429);
    expect(memory.logs.join('')).toContain('counting in this process only until it is back');

    const open = await gateway({ ...unreachable, GATEWAY_RATE_LIMIT_STORE_FAILURE: 'open' });
    expect((await open.post(ME, bearer(token))).status).toBe(200);
    expect(open.logs.join('')).toContain('admitting requests without limits until it is back');
    for (const g of [closed, memory, open]) expect(g.logs.join('')).not.toContain('hunter2-redis-password');
  });
});
