import { ApolloServer } from '@apollo/server';
import { describe, expect, it } from 'vitest';
import { ANONYMOUS, createLogger, type Principal } from '@fleet/service-kit';
import type { GatewayContext } from '../gateway-context.js';
import { anonymousAccessPlugin } from './anonymous-access-plugin.js';

const typeDefs = `
  type Query { me: String }
  type Mutation { login: String logout: String }
`;

/** A plain Apollo server with the plugin, recording which resolvers ran. */
async function server() {
  const ran: string[] = [];
  const field = (name: string) => () => {
    ran.push(name);
    return name;
  };
  const apollo = new ApolloServer<GatewayContext>({
    typeDefs,
    resolvers: { Query: { me: field('me') }, Mutation: { login: field('login'), logout: field('logout') } },
    plugins: [anonymousAccessPlugin({ introspection: false })],
  });
  await apollo.start();
  const run = async (query: string, principal: Principal = ANONYMOUS) => {
    const response = await apollo.executeOperation(
      { query },
      {
        contextValue: {
          principal,
          requestId: 'r',
          quotas: [],
          logger: createLogger({ service: 'test', level: 'silent' }),
          trustedDocuments: null,
          deadline: Date.now() + 60_000,
          clientAddress: '',
        },
      },
    );
    return { response, body: response.body.kind === 'single' ? response.body.singleResult : undefined };
  };
  return { apollo, ran, run };
}

describe('the anonymous access plugin', () => {
  it('refuses an anonymous operation outside the allow-list with 401, running nothing', async () => {
    const { apollo, ran, run } = await server();
    const { response, body } = await run('mutation { login logout }');
    expect(response.http.status).toBe(401);
    expect(response.http.headers.get('www-authenticate')).toBe('Bearer');
    expect(body?.data).toBeUndefined();
    expect(body?.errors).toEqual([
      { message: 'Authentication required', extensions: { code: 'UNAUTHENTICATED' } },
    ]);
    expect(ran).toEqual([]);
    await apollo.stop();
  });

  it('lets anonymous callers sign in, and callers with credentials anywhere', async () => {
    const { apollo, ran, run } = await server();
    expect((await run('mutation { login }')).body?.data).toEqual({ login: 'login' });
    const user: Principal = {
      kind: 'user',
      userId: 'u',
      tenantId: 't',
      roles: [],
      scopes: [],
      sessionId: 's',
    };
    expect((await run('{ me }', user)).body?.data).toEqual({ me: 'me' });
    expect(ran).toEqual(['login', 'me']);
    await apollo.stop();
  });
});
