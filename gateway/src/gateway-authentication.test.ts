import type { IncomingMessage } from 'node:http';
import { createServer } from 'node:https';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { composeServices } from '@apollo/composition';
import { parse } from 'graphql';
import { fetch } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  generateTokenKeyRing,
  issueAccessToken,
  parseTokenKeyRing,
  type TokenKeyRing,
} from '@fleet/access-tokens';
import { generateKey } from '@fleet/request-signing';
import {
  createLogger,
  loadConfig,
  readBody,
  SignatureCheck,
  type Principal,
  type StartedService,
} from '@fleet/service-kit';
import { testPki } from '../../test/support/test-pki.js';
import { gatewayConfigSpec } from './config.js';
import { startGateway } from './gateway-server.js';

/**
 * The gateway's authentication end to end over HTTP, with stand-ins for the subgraphs: aaa's
 * internal endpoints answer as the test says, and every subgraph records the signed calls it
 * receives, so the tests can tell that a refused request reached no subgraph at all.
 */

const logger = createLogger({ service: 'test', level: 'silent' });
const keys = { aaa: generateKey(), devices: generateKey() };
const tokenKeys = generateTokenKeyRing('k1');
const ring = parseTokenKeyRing(tokenKeys) as TokenKeyRing;
const PARTNER_KEY = `fk_${'p'.repeat(43)}`;
const UNCHECKABLE_KEY = `fk_${'u'.repeat(43)}`;

const subgraphSchemas = {
  aaa: `
    extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key"])
    type Query { me: User }
    type User { id: ID! }
    type Mutation { login(email: String!): String! logout: Boolean! createTenant(name: String!): String! }
  `,
  devices: `
    extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key"])
    type Query { devices: [String!]! }
  `,
};

interface SubgraphCall {
  subgraph: string;
  principal: Principal;
  clientAddress: string;
  query: string;
}

const state = {
  calls: [] as SubgraphCall[],
  revocationPolls: 0,
  revoked: { sessions: [] as string[], apiKeys: [] as string[] },
};

const pki = await testPki();

/** One stand-in subgraph: over mutual TLS, checks the gateway's signatures as a subgraph does. */
async function fakeSubgraph(name: 'aaa' | 'devices') {
  const tls = pki.tls(name);
  const signatures = new SignatureCheck({ audience: name, logger, mutualTls: true });
  const signers = new Map([['gateway', Buffer.from(keys[name], 'base64url')]]);
  const answer = (req: IncomingMessage, body: Buffer): { status: number; body: unknown } => {
    let signed;
    try {
      signed = signatures.check(req, body, signers);
    } catch {
      return { status: 401, body: {} };
    }
    if (req.url === '/internal/revocations') {
      state.revocationPolls++;
      return { status: 200, body: state.revoked };
    }
    if (req.url === '/internal/api-keys/verify') {
      const { key } = JSON.parse(body.toString()) as { key: string };
      if (key === UNCHECKABLE_KEY) return { status: 500, body: {} };
      if (key !== PARTNER_KEY) return { status: 200, body: { valid: false } };
      const expiresAt = new Date(Date.now() + 86_400_000).toISOString();
      return {
        status: 200,
        body: { valid: true, keyId: 'key-1', tenantId: 't1', scopes: ['devices:read'], expiresAt },
      };
    }
    const { query } = JSON.parse(body.toString()) as { query: string };
    const { principal } = signed;
    state.calls.push({ subgraph: name, principal, clientAddress: signed.clientAddress, query });
    const data = query.includes('devices')
      ? { devices: ['d1'] }
      : query.includes('login')
        ? { login: 'tokens' }
        : query.includes('logout')
          ? { logout: true }
          : { me: principal.kind === 'user' ? { id: principal.userId } : null };
    return { status: 200, body: { data } };
  };
  const server = createServer(tls.serverOptions(), (req, res) => {
    void readBody(req, 1_000_000).then((body) => {
      const reply = answer(req, body);
      res.writeHead(reply.status, { 'content-type': 'application/json' }).end(JSON.stringify(reply.body));
    });
  });
  tls.guard(server, new Set(['gateway']));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `https://127.0.0.1:${(server.address() as AddressInfo).port}/graphql` };
}

describe('authentication at the gateway', () => {
  let dir: string;
  let gateway: StartedService;
  let subgraphs: Awaited<ReturnType<typeof fakeSubgraph>>[];
  let url: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gateway-auth-'));
    const composed = composeServices(
      Object.entries(subgraphSchemas).map(([name, sdl]) => ({
        name,
        url: 'http://127.0.0.1:1/graphql',
        typeDefs: parse(sdl),
      })),
    );
    if (composed.errors) throw new Error(composed.errors.map((e) => e.message).join('\n'));
    await writeFile(join(dir, 'supergraph.graphql'), composed.supergraphSdl);
    subgraphs = [await fakeSubgraph('aaa'), await fakeSubgraph('devices')];
    const config = loadConfig(gatewayConfigSpec, 'GATEWAY_', {
      GATEWAY_PORT: '0',
      GATEWAY_SUPERGRAPH_PATH: join(dir, 'supergraph.graphql'),
      GATEWAY_AAA_URL: subgraphs[0]!.url,
      GATEWAY_DEVICES_URL: subgraphs[1]!.url,
      GATEWAY_KEY_AAA: keys.aaa,
      GATEWAY_KEY_DEVICES: keys.devices,
      GATEWAY_KEY_BILLING: generateKey(),
      GATEWAY_KEY_AUDIT: generateKey(),
      GATEWAY_TOKEN_KEYS: tokenKeys,
      GATEWAY_REVOCATION_POLL_MS: '250',
      GATEWAY_LOG_LEVEL: 'silent',
      ...pki.env('gateway'),
    });
    gateway = await startGateway(config, logger);
    url = `https://127.0.0.1:${gateway.port}/graphql`;
  });

  afterAll(async () => {
    await gateway?.stop();
    for (const { server } of subgraphs ?? []) {
      server.closeAllConnections();
      server.close();
    }
    await rm(dir, { recursive: true, force: true });
  });

  beforeEach(() => {
    state.calls = [];
    state.revoked = { sessions: [], apiKeys: [] };
  });

  async function post(query: string, headers: Record<string, string> = {}) {
    const response = await fetch(url, {
      dispatcher: pki.edgeClient,
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ query }),
    });
    const body = (await response.json()) as {
      data?: unknown;
      errors?: { message: string; extensions?: unknown }[];
    };
    return { status: response.status, headers: response.headers, body };
  }

  const token = async (sessionId = 's1') =>
    (await issueAccessToken(ring, { userId: 'u1', tenantId: 't1', roles: ['admin'], scopes: [], sessionId }))
      .token;

  const refusedWith401 = (result: Awaited<ReturnType<typeof post>>, message: string) => {
    expect(result.status).toBe(401);
    expect(result.headers.get('www-authenticate')).toBe('Bearer');
    expect(result.body).toEqual({ errors: [{ message, extensions: { code: 'UNAUTHENTICATED' } }] });
  };

  it('polls the revocation feed from the start', () => {
    expect(state.revocationPolls).toBeGreaterThanOrEqual(1);
  });

  it('refuses anonymous callers anything but the allow-list, reaching no subgraph', async () => {
    refusedWith401(await post('{ me { id } }'), 'Authentication required');
    refusedWith401(await post('{ devices }'), 'Authentication required');
    refusedWith401(
      await post('mutation { ...F } fragment F on Mutation { createTenant(name: "x") }'),
      'Authentication required',
    );
    expect(state.calls).toEqual([]);
  });

  it('lets anonymous callers sign in, passing on their address', async () => {
    const result = await post('mutation { login(email: "a@example.com") }', {
      'x-forwarded-for': '192.0.2.1',
    });
    expect(result.body).toEqual({ data: { login: 'tokens' } });
    // No trusted proxy: X-Forwarded-For is the client's own text, and is ignored.
    expect(state.calls).toEqual([
      expect.objectContaining({
        subgraph: 'aaa',
        principal: { kind: 'anonymous' },
        clientAddress: '127.0.0.1',
      }),
    ]);
    expect((await post('{ __typename }')).body).toEqual({ data: { __typename: 'Query' } });
  });

  it('passes a user with a valid access token on to every subgraph', async () => {
    const result = await post('{ me { id } devices }', { authorization: `Bearer ${await token()}` });
    expect(result.body).toEqual({ data: { me: { id: 'u1' }, devices: ['d1'] } });
    const principal = {
      kind: 'user',
      userId: 'u1',
      tenantId: 't1',
      roles: ['admin'],
      scopes: [],
      sessionId: 's1',
    };
    expect(state.calls.map((call) => [call.subgraph, call.principal, call.clientAddress]).sort()).toEqual([
      ['aaa', principal, '127.0.0.1'],
      ['devices', principal, '127.0.0.1'],
    ]);
  });

  it.each([
    ['a forged token', { authorization: 'Bearer not-a-token' }],
    ['another scheme', { authorization: 'Basic dXNlcjpwYXNz' }],
    ['an empty Authorization header', { authorization: '' }],
    ['both a token and an API key', { authorization: 'Bearer x', 'x-api-key': PARTNER_KEY }],
    ['an unknown API key', { 'x-api-key': `fk_${'x'.repeat(43)}` }],
    ['a malformed API key', { 'x-api-key': 'fk_not valid' }],
  ])('refuses %s with 401, even for an allowed operation', async (_, headers) => {
    refusedWith401(await post('mutation { login(email: "a@example.com") }', headers), 'Invalid credentials');
    expect(state.calls).toEqual([]);
  });

  it('refuses the token of a session once the feed reports it revoked', async () => {
    const revokedToken = await token('s-revoked');
    expect((await post('{ me { id } }', { authorization: `Bearer ${revokedToken}` })).status).toBe(200);
    state.revoked = { sessions: ['s-revoked'], apiKeys: [] };
    const polls = state.revocationPolls;
    await until(() => state.revocationPolls >= polls + 2);
    refusedWith401(
      await post('{ me { id } }', { authorization: `Bearer ${revokedToken}` }),
      'Invalid credentials',
    );
    expect((await post('{ me { id } }', { authorization: `Bearer ${await token('s-other')}` })).status).toBe(
      200,
    );
  });

  it('passes a partner with a valid API key on, and stops it once revoked', async () => {
    const result = await post('{ devices }', { 'x-api-key': PARTNER_KEY });
    expect(result.body).toEqual({ data: { devices: ['d1'] } });
    expect(state.calls.map((call) => call.principal)).toEqual([
      { kind: 'apiKey', keyId: 'key-1', tenantId: 't1', scopes: ['devices:read'] },
    ]);
    state.revoked = { sessions: [], apiKeys: ['key-1'] };
    const polls = state.revocationPolls;
    await until(() => state.revocationPolls >= polls + 2);
    refusedWith401(await post('{ devices }', { 'x-api-key': PARTNER_KEY }), 'Invalid credentials');
  });

  it('answers 503 when an API key cannot be checked', async () => {
    const result = await post('{ devices }', { 'x-api-key': UNCHECKABLE_KEY });
    expect(result.status).toBe(503);
    expect(result.body).toEqual({
      errors: [{ message: expect.any(String) as unknown, extensions: { code: 'SERVICE_UNAVAILABLE' } }],
    });
    expect(state.calls).toEqual([]);
  });
});

async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
