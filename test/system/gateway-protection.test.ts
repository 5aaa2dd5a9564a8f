import { createHash, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMember, bearer, signIn, type TestMember } from '../support/identities.js';
import {
  createTenant,
  eventually,
  startTestFederation,
  type TestFederation,
} from '../support/test-federation.js';

const SUBGRAPHS = ['aaa', 'devices', 'billing', 'audit'] as const;

/**
 * The attack suite: abusive operations through the real gateway are refused with a code that
 * says why, and no subgraph does any work for them. (The gateway's protections do not depend on
 * the database engine, so this suite runs on the embedded one.)
 */
describe('the gateway under attack', () => {
  let fleet: TestFederation;
  let tenantId: string;
  let member: TestMember;
  let token: string;

  /** Sends an operation with its own request id, and says whether any subgraph saw that id. */
  const probe = async (
    body: unknown,
    headers: Record<string, string> = {},
  ): Promise<{
    status: number;
    json: { data?: unknown; errors?: { message: string; extensions?: Record<string, unknown> }[] };
    reachedSubgraph: () => boolean;
  }> => {
    const requestId = `probe-${randomUUID()}`;
    const response = await fleet.fetch(fleet.gatewayUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': requestId, ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await response.text();
    let json = {};
    try {
      json = JSON.parse(text) as object;
    } catch {
      json = { errors: [{ message: text }] };
    }
    return {
      status: response.status,
      json,
      reachedSubgraph: () => SUBGRAPHS.some((s) => fleet.logs(s).some((line) => line.includes(requestId))),
    };
  };

  const refused = async (query: string, code: string, headers: Record<string, string> = bearer(token)) => {
    const result = await probe({ query }, headers);
    expect(
      result.json.errors?.map((e) => e.extensions?.code),
      query.slice(0, 80),
    ).toContain(code);
    expect(result.json.data ?? null).toBeNull();
    // Let the subgraphs' request logs settle before concluding that none of them was called.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(result.reachedSubgraph()).toBe(false);
    return result;
  };

  beforeAll(async () => {
    fleet = await startTestFederation({ engine: 'pglite' });
    tenantId = await createTenant(fleet, 'Target Corp', 'target');
    member = await addMember(
      fleet,
      { id: tenantId, slug: 'target' },
      {
        email: 'owner@target.example',
        fullName: 'Owner',
        roles: ['owner'],
      },
    );
    token = (await signIn(fleet, member)).accessToken;
  });

  afterAll(async () => {
    await fleet?.destroy();
  });

  it('answers a legitimate request, and the probe sees the subgraph it reached', async () => {
    const result = await probe({ query: '{ me { id } }' }, bearer(token));
    expect(result.json).toEqual({ data: { me: { id: member.userId } } });
    await eventually(() => Promise.resolve(result.reachedSubgraph() ? true : undefined));
  });

  it('refuses deep operations, also when the depth hides in fragments', async () => {
    const deep = `{ tenant(id: "${tenantId}") { members { user { memberships { tenant { members { user {
      memberships { tenant { members { user { memberships { tenant { name } } } } } } } } } } } } } }`;
    await refused(deep, 'DEPTH_LIMIT');
    const viaFragments = `
      { me { ...A } }
      fragment A on User { memberships { tenant { members { user { ...B } } } } }
      fragment B on User { memberships { tenant { members { user { ...C } } } } }
      fragment C on User { memberships { tenant { members { user { id } } } } }`;
    await refused(viaFragments, 'DEPTH_LIMIT');
  });

  it('refuses alias bombs, also when a fragment multiplies them', async () => {
    const aliases = Array.from({ length: 40 }, (_, i) => `a${i}: id`).join(' ');
    await refused(`{ me { ${aliases} } }`, 'ALIAS_LIMIT');
    const fragment = Array.from({ length: 5 }, (_, i) => `f${i}: id`).join(' ');
    await refused(
      `{ me { ...F ...F ...F ...F ...F ...F } } fragment F on User { ${fragment} }`,
      'ALIAS_LIMIT',
    );
  });

  it('refuses too many root fields and too many directives', async () => {
    const roots = Array.from({ length: 12 }, (_, i) => `r${i}: me { id }`).join(' ');
    await refused(`{ ${roots} }`, 'ROOT_FIELD_LIMIT');
    const directives = Array.from({ length: 30 }, () => 'id @include(if: true)').join(' ');
    await refused(`{ me { ${directives} } }`, 'DIRECTIVE_LIMIT');
  });

  it('refuses operations that would cost too much, counting lists at their default size', async () => {
    await refused(
      `{ tenant(id: "${tenantId}") { members { user { memberships { tenant { members { roles } } } } } } }`,
      'COST_LIMIT',
    );
  });

  it('refuses oversized bodies, batches and documents with too many tokens', async () => {
    const huge = await probe({ query: `{ me { id } } # ${'x'.repeat(2_000_000)}` }, bearer(token));
    expect(huge.status).toBe(413);
    const batch = await probe([{ query: '{ me { id } }' }, { query: '{ me { id } }' }], bearer(token));
    expect(batch.status).toBe(400);
    expect(batch.reachedSubgraph()).toBe(false);
    const tokens = Array.from({ length: 6_000 }, () => 'id').join(' ');
    await refused(`{ me { ${tokens} } }`, 'TOKEN_LIMIT');
  });

  it('keeps introspection off and does not suggest field names in production', async () => {
    const introspection = await probe({ query: '{ __schema { types { name } } }' }, bearer(token));
    expect(introspection.json.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    const typo = await probe({ query: '{ mee { id } }' }, bearer(token));
    expect(typo.json.errors?.[0]?.message).not.toMatch(/Did you mean/);
  });

  it('enforces @authenticated and @requiresScopes before planning: FORBIDDEN, and no subgraph called', async () => {
    const viewer = await addMember(
      fleet,
      { id: tenantId, slug: 'target' },
      { email: 'viewer@target.example', fullName: 'Viewer', roles: ['viewer'] },
    );
    const viewerToken = bearer((await signIn(fleet, viewer)).accessToken);
    // A viewer reads devices but may not create one.
    const allowed = await probe({ query: `{ devices(tenantId: "${tenantId}") { id } }` }, viewerToken);
    expect(allowed.json).toEqual({ data: { devices: [] } });
    const create = await refused(
      `mutation { createDevice(input: { tenantId: "${tenantId}", name: "r1", host: "10.0.0.1",
        username: "admin", password: "admin", tls: { mode: ANONYMOUS_DH } }) { id } }`,
      'FORBIDDEN',
      viewerToken,
    );
    expect(create.status).toBe(403);
    expect(create.json.errors?.[0]?.extensions?.field).toBe('Mutation.createDevice');
    // Platform fields, even to a tenant's owner; one denied field refuses the whole operation,
    // wherever it hides: beside allowed fields, behind an alias, in a fragment.
    await refused('{ tenants { id } }', 'FORBIDDEN');
    await refused('{ me { id } all: tenants { id } }', 'FORBIDDEN');
    await refused('{ ...Everything } fragment Everything on Query { tenants { id } }', 'FORBIDDEN');
    await refused(
      `{ me { memberships { tenant { ... on Tenant { members { roles } } } } } }`,
      'FORBIDDEN',
      viewerToken,
    );
    await refused('{ verifyAuditLog { ok } }', 'FORBIDDEN');
    // An API key reaches no further than its scopes.
    const created = await fleet.graphql<{ createApiKey: { key: string } }>(
      'mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { key } }',
      {
        input: {
          tenantId,
          name: 'Reader',
          scopes: ['tenant:read'],
          expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
        },
      },
      bearer(token),
    );
    const key = { 'x-api-key': created.data!.createApiKey.key };
    await refused(`{ devices(tenantId: "${tenantId}") { id } }`, 'FORBIDDEN', key);
    await refused(`{ tenant(id: "${tenantId}") { name members { roles } } }`, 'FORBIDDEN', key);
    const ok = await probe({ query: `{ tenant(id: "${tenantId}") { name } }` }, key);
    expect(ok.json).toEqual({ data: { tenant: { name: 'Target Corp' } } });
  });

  it('answers a tampered token with 401 before any subgraph is called', async () => {
    const parts = token.split('.');
    const last = parts[4]!;
    const tampered = [...parts.slice(0, 4), `${last.slice(0, -2)}${last.endsWith('AA') ? 'BB' : 'AA'}`].join(
      '.',
    );
    const result = await refused('{ me { id } }', 'UNAUTHENTICATED', bearer(tampered));
    expect(result.status).toBe(401);
  });

  it('restricts an API key to its trusted documents, and serves them as persisted queries too', async () => {
    const allowed = 'query Name($t: ID!) { tenant(id: $t) { name } }';
    const hash = createHash('sha256').update(allowed).digest('hex');
    const created = await fleet.graphql<{ createApiKey: { key: string } }>(
      `mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { key apiKey { trustedDocuments } } }`,
      {
        input: {
          tenantId,
          name: 'Dashboard',
          scopes: ['tenant:read', 'devices:read'],
          expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
          trustedDocuments: [hash],
        },
      },
      bearer(token),
    );
    expect(created.errors).toBeUndefined();
    const key = { 'x-api-key': created.data!.createApiKey.key };
    const ok = await probe({ query: allowed, variables: { t: tenantId } }, key);
    expect(ok.json).toEqual({ data: { tenant: { name: 'Target Corp' } } });
    // Automatic persisted queries: the hash alone, once the document has been sent with it.
    const apq = { persistedQuery: { version: 1, sha256Hash: hash } };
    const unknown = await probe({ variables: { t: tenantId }, extensions: apq }, key);
    expect(unknown.json.errors?.[0]?.extensions?.code).toBe('PERSISTED_QUERY_NOT_FOUND');
    const registered = await probe({ query: allowed, variables: { t: tenantId }, extensions: apq }, key);
    expect(registered.json).toEqual({ data: { tenant: { name: 'Target Corp' } } });
    const byHash = await probe({ variables: { t: tenantId }, extensions: apq }, key);
    expect(byHash.json).toEqual({ data: { tenant: { name: 'Target Corp' } } });
    await refused(`{ tenant(id: "${tenantId}") { name } }`, 'PERSISTED_QUERY_REQUIRED', key);
  });
});
