import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import { ApolloGateway } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { generateKey, sign } from '@fleet/request-signing';
import { ANONYMOUS, createLogger, encodePrincipal, listen } from '@fleet/service-kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkAnswer, expectedAnswer } from './expected-answer.js';
import { GUILD_REQUEST_BODY } from './guild-query.js';
import { GUILD_SUBGRAPHS, type GuildSubgraph } from './guild-schemas.js';
import { GuildSubgraphServer, type CallCounts } from './guild-subgraph-server.js';
import { composeGuildSupergraph } from './guild-supergraph.js';

process.env.APOLLO_TELEMETRY_DISABLED = 'true';

const keys = Object.fromEntries(
  GUILD_SUBGRAPHS.map((name) => [name, Buffer.from(generateKey(), 'base64url')]),
) as Record<GuildSubgraph, Buffer>;
const counts: CallCounts = { calls: { accounts: 0, inventory: 0, products: 0, reviews: 0 }, signed: 0 };
const subgraphs = new GuildSubgraphServer(createLogger({ service: 'guild-test', level: 'silent' }), counts);
const servers: Server[] = [subgraphs.server(), subgraphs.server(keys)];
const [plain, signed] = servers as [Server, Server];
let plainUrl = '';
let signedUrl = '';
let apollo: ApolloServer | undefined;
let gatewayUrl = '';

beforeAll(async () => {
  plainUrl = `http://127.0.0.1:${await listen(plain, '127.0.0.1', 0)}`;
  signedUrl = `http://127.0.0.1:${await listen(signed, '127.0.0.1', 0)}`;
  apollo = new ApolloServer({
    gateway: new ApolloGateway({ supergraphSdl: composeGuildSupergraph(plainUrl, { authenticated: false }) }),
  });
  gatewayUrl = (await startStandaloneServer(apollo, { listen: { host: '127.0.0.1', port: 0 } })).url;
});

afterAll(async () => {
  await apollo?.stop();
  for (const server of servers) {
    server.closeAllConnections();
    server.close();
  }
});

const post = (url: string, body: string, headers: Record<string, string> = {}) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

describe('the Guild benchmark ported to Node', () => {
  it("answers the Guild's query through a federation gateway exactly as expected, over 16 subgraph calls", async () => {
    const before = Object.values(counts.calls).reduce((sum, n) => sum + n, 0);
    const response = await post(gatewayUrl, GUILD_REQUEST_BODY);
    const text = await response.text();
    expect(response.status).toBe(200);
    const expected = await expectedAnswer();
    expect(() => checkAnswer('apollo', text, expected)).not.toThrow();
    expect(text.length).toBeGreaterThan(80_000);
    expect(Object.values(counts.calls).reduce((sum, n) => sum + n, 0) - before).toBe(16);
  });

  it('tells a wrong answer from the right one', async () => {
    const response = await post(gatewayUrl, GUILD_REQUEST_BODY);
    const answer = (await response.json()) as { data: { users: { username: string }[] } };
    answer.data.users[0]!.username = 'someone';
    const expected = await expectedAnswer();
    expect(() => checkAnswer('apollo', JSON.stringify(answer), expected)).toThrow(/something else/);
  });

  it('marks the root fields @authenticated in the supergraph for our gateway only', () => {
    const marked = composeGuildSupergraph(signedUrl, { authenticated: true });
    expect(marked).toMatch(/users: \[User\] @join__field\(graph: ACCOUNTS\) @authenticated/);
    expect(marked).toMatch(
      /topProducts\(first: Int = 5\): \[Product\] @join__field\(graph: PRODUCTS\) @authenticated/,
    );
    expect(composeGuildSupergraph(plainUrl, { authenticated: false })).not.toMatch(/authenticated/);
  });

  it('answers on its signed port only calls signed with that subgraph’s key, each once', async () => {
    const body = JSON.stringify({ query: '{ users { id } }' });
    const signedHeaders = (key: Buffer) =>
      sign({
        caller: 'gateway',
        audience: 'accounts',
        key,
        method: 'POST',
        path: '/accounts',
        body,
        principal: encodePrincipal(ANONYMOUS),
        requestId: randomUUID(),
        now: Date.now(),
      }) as unknown as Record<string, string>;
    expect((await post(`${signedUrl}/accounts`, body)).status).toBe(401);
    expect((await post(`${signedUrl}/accounts`, body, signedHeaders(keys.products))).status).toBe(401);
    const headers = signedHeaders(keys.accounts);
    const accepted = await post(`${signedUrl}/accounts`, body, headers);
    expect(accepted.status).toBe(200);
    expect(await accepted.json()).toEqual({
      data: { users: [1, 2, 3, 4, 5, 6].map((id) => ({ id: String(id) })) },
    });
    expect((await post(`${signedUrl}/accounts`, body, headers)).status).toBe(401);
  });
});

describe('the loopback guard', () => {
  const guard = fileURLToPath(new URL('../../dist/guild-federation/loopback-guard.js', import.meta.url));
  const run = (script: string) =>
    spawnSync(process.execPath, ['--import', guard, '--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 20_000,
    });

  it('refuses a connection beyond loopback where it is made, and says so', () => {
    const result = run(
      "import net from 'node:net'; try { net.connect(80, '192.0.2.1'); } catch (e) { console.log('thrown'); }",
    );
    expect(result.stdout).toContain('thrown');
    expect(result.stderr).toContain('loopback guard: refused a connection to 192.0.2.1:80');
  });

  it('refuses fetch to a name beyond loopback', () => {
    const result = run(
      "await fetch('https://example.com/').catch((e) => console.log(String(e.cause?.message)));",
    );
    expect(result.stdout).toContain('loopback guard: refused');
  });

  it('lets a connection to loopback through', () => {
    const result = run(
      "import http from 'node:http'; const s = http.createServer((q, r) => r.end('ok')).listen(0, '127.0.0.1', async () => { const r = await fetch(`http://127.0.0.1:${s.address().port}/`); console.log(await r.text()); s.close(); });",
    );
    expect(result.stdout.trim()).toBe('ok');
    expect(result.stderr).not.toContain('loopback guard');
  });
});
