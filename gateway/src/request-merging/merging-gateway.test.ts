import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { buildSchema } from 'graphql';
import { describe, expect, it } from 'vitest';
import { ANONYMOUS, createLogger, type Principal } from '@fleet/service-kit';
import type { GatewayContext } from '../gateway-context.js';
import { mergingGateway, type GatewayExecutor, type GatewayInterface } from './merging-gateway.js';

const typeDefs = `
  directive @defer(label: String, if: Boolean) on FRAGMENT_SPREAD | INLINE_FRAGMENT
  input Filter { a: Int, b: Int }
  type Item { id: ID, name: String }
  type Query { me: String, items(filter: Filter): [Item] }
  type Mutation { bump: Int }
`;

type Result = Awaited<ReturnType<GatewayExecutor>>;

/** One call of the controllable executor: it settles when the test says so. */
interface ExecutorCall {
  context: GatewayContext;
  resolve: (result: Result) => void;
  reject: (error: Error) => void;
}

const alice: Principal = {
  kind: 'user',
  userId: 'alice',
  tenantId: 'acme',
  roles: ['member'],
  scopes: [],
  sessionId: 's-alice',
};
const bob: Principal = { ...alice, userId: 'bob', sessionId: 's-bob' };
const aliceElsewhere: Principal = { ...alice, tenantId: 'globex' };
const aliceOtherSession: Principal = { ...alice, sessionId: 's-alice-2' };
const aliceMoreScopes: Principal = { ...alice, scopes: ['devices:write'] };
const partnerKey: Principal = { kind: 'apiKey', keyId: 'k1', tenantId: 'acme', scopes: [] };

/**
 * A real Apollo server over a gateway whose executor never answers by itself: each call waits
 * for the test to resolve or reject it. The gateway is wrapped for merging as the edge wraps its
 * own. A plugin writes each response's own request id into its extensions, as a formatting step
 * would: if two responses shared one result object, one would show the other's id.
 */
async function mergingServer() {
  const calls: ExecutorCall[] = [];
  const merged: { requestId: string; mergedInto: string }[] = [];
  const listeners = new Set<Parameters<GatewayInterface['onSchemaLoadOrUpdate']>[0]>();
  const schema = buildSchema(typeDefs);
  const controllable: GatewayInterface = {
    onSchemaLoadOrUpdate: (callback) => {
      listeners.add(callback);
      return () => listeners.delete(callback);
    },
    load: () => {
      for (const listener of listeners) listener({ apiSchema: schema, coreSupergraphSdl: typeDefs });
      const executor: GatewayExecutor = (requestContext) =>
        new Promise<Result>((resolve, reject) => {
          calls.push({ context: requestContext.context as GatewayContext, resolve, reject });
        });
      return Promise.resolve({ executor });
    },
    stop: () => Promise.resolve(),
  };
  const ownRequestId: ApolloServerPlugin<GatewayContext> = {
    requestDidStart: () =>
      Promise.resolve({
        willSendResponse: ({ response, contextValue }) => {
          if (response.body.kind === 'single' && response.body.singleResult.extensions) {
            response.body.singleResult.extensions.requestId = contextValue.requestId;
          }
          return Promise.resolve();
        },
      }),
  };
  const apollo = new ApolloServer<GatewayContext>({
    gateway: mergingGateway(controllable),
    plugins: [ownRequestId],
  });
  await apollo.start();

  let nextRequest = 0;
  const run = (
    query: string,
    options: {
      principal?: Principal;
      variables?: Record<string, unknown>;
      deadlineMs?: number;
      trustedDocuments?: ReadonlySet<string>;
      clientAddress?: string;
    } = {},
  ) => {
    const requestId = `r${++nextRequest}`;
    const logger = createLogger({
      service: 'test',
      level: 'debug',
      destination: {
        write: (line: string) => {
          const entry = JSON.parse(line) as { mergedInto?: string };
          if (entry.mergedInto) merged.push({ requestId, mergedInto: entry.mergedInto });
        },
      },
    });
    const answer = apollo
      .executeOperation(
        { query, variables: options.variables },
        {
          contextValue: {
            principal: options.principal ?? alice,
            requestId,
            quotas: [],
            logger,
            trustedDocuments: options.trustedDocuments ?? null,
            deadline: Date.now() + (options.deadlineMs ?? 60_000),
            clientAddress: options.clientAddress ?? '127.0.0.1',
          },
        },
      )
      .then((response) => {
        if (response.body.kind !== 'single') throw new Error('expected a single result');
        return response.body.singleResult;
      });
    return { requestId, answer };
  };

  /** Resolves once the executor was called `count` times and `joined` requests merged. */
  const settled = async (count: number, joined = 0) => {
    for (let turn = 0; turn < 1_000; turn++) {
      if (calls.length === count && merged.length === joined) return;
      await new Promise((resolve) => setImmediate(resolve));
    }
    throw new Error(
      `expected ${count} executions and ${joined} merged, saw ${calls.length} and ${merged.length}`,
    );
  };

  return { apollo, calls, merged, run, settled };
}

const meOf = (id: string): Result => ({ data: { me: id }, extensions: { answered: true } });

describe('request merging', () => {
  it('executes identical queries of one principal in flight together once, each with its own result', async () => {
    const { apollo, calls, merged, run, settled } = await mergingServer();
    const requests = [1, 2, 3, 4].map(() => run('{ me }'));
    await settled(1, 3);
    expect(calls[0]!.context.requestId).toBe(requests[0]!.requestId);
    expect(merged).toEqual(requests.slice(1).map(({ requestId }) => ({ requestId, mergedInto: 'r1' })));
    calls[0]!.resolve(meOf('alice'));
    const answers = await Promise.all(requests.map(({ answer }) => answer));
    for (const [index, answer] of answers.entries()) {
      expect(answer.data).toEqual({ me: 'alice' });
      expect(answer.extensions).toEqual({ answered: true, requestId: requests[index]!.requestId });
    }
    expect(new Set(answers.map((answer) => answer.extensions)).size).toBe(answers.length);
    await apollo.stop();
  });

  it('merges variables equal as data, whatever the order of their keys, and not different ones', async () => {
    const { apollo, calls, run, settled } = await mergingServer();
    const query = 'query Items($filter: Filter) { items(filter: $filter) { id } }';
    const first = run(query, { variables: { filter: { a: 1, b: 2 } } });
    const reordered = run(query, { variables: { filter: { b: 2, a: 1 } } });
    const other = run(query, { variables: { filter: { a: 1, b: 3 } } });
    await settled(2, 1);
    for (const call of calls) call.resolve({ data: { items: [] } });
    await Promise.all([first.answer, reordered.answer, other.answer]);
    await apollo.stop();
  });

  it('never merges across principals: tenant, session, scopes, user, API key and anonymous apart', async () => {
    const { apollo, calls, merged, run, settled } = await mergingServer();
    const principals = [
      alice,
      bob,
      aliceElsewhere,
      aliceOtherSession,
      aliceMoreScopes,
      partnerKey,
      ANONYMOUS,
    ];
    const requests = principals.map((principal) => run('{ me }', { principal }));
    // Two anonymous callers share the one scope they have.
    const anonymousAgain = run('{ me }', { principal: ANONYMOUS });
    await settled(principals.length, 1);
    expect(merged).toEqual([{ requestId: anonymousAgain.requestId, mergedInto: requests.at(-1)!.requestId }]);
    expect(calls.map((call) => call.context.principal)).toEqual(principals);
    for (const call of calls) call.resolve(meOf(call.context.requestId));
    const answers = await Promise.all(requests.map(({ answer }) => answer));
    expect(answers.map((answer) => answer.data)).toEqual(
      requests.map(({ requestId }) => ({ me: requestId })),
    );
    await anonymousAgain.answer;
    await apollo.stop();
  });

  it('never merges one API key with and without trusted documents, nor across client addresses', async () => {
    const { apollo, calls, merged, run, settled } = await mergingServer();
    const requests = [
      run('{ me }', { principal: partnerKey }),
      run('{ me }', { principal: partnerKey, trustedDocuments: new Set(['a'.repeat(64)]) }),
      run('{ me }', { principal: partnerKey, trustedDocuments: new Set(['b'.repeat(64)]) }),
      run('{ me }', { principal: partnerKey, clientAddress: '192.0.2.7' }),
    ];
    await settled(requests.length, 0);
    expect(merged).toEqual([]);
    for (const call of calls) call.resolve(meOf(call.context.requestId));
    await Promise.all(requests.map(({ answer }) => answer));
    await apollo.stop();
  });

  it('never merges mutations, nor queries with incremental delivery', async () => {
    const { apollo, calls, merged, run, settled } = await mergingServer();
    const requests = [
      run('mutation { bump }'),
      run('mutation { bump }'),
      run('{ items { id ... @defer { name } } }'),
      run('{ items { id ... @defer { name } } }'),
    ];
    await settled(4, 0);
    expect(merged).toEqual([]);
    for (const call of calls) call.resolve({ data: {} });
    await Promise.all(requests.map(({ answer }) => answer));
    await apollo.stop();
  });

  it('keeps nothing once an execution settles: a later identical query executes again', async () => {
    const { apollo, calls, run, settled } = await mergingServer();
    const first = run('{ me }');
    await settled(1);
    calls[0]!.resolve(meOf('first'));
    expect((await first.answer).data).toEqual({ me: 'first' });
    const later = run('{ me }');
    await settled(2);
    calls[1]!.resolve(meOf('later'));
    expect((await later.answer).data).toEqual({ me: 'later' });
    await apollo.stop();
  });

  it('gives a failing leader’s error to its followers, and a retry executes anew', async () => {
    const { apollo, calls, run, settled } = await mergingServer();
    const leader = run('{ me }');
    const follower = run('{ me }');
    await settled(1, 1);
    calls[0]!.reject(new Error('subgraph unreachable'));
    for (const answer of await Promise.all([leader.answer, follower.answer])) {
      expect(answer.data).toBeUndefined();
      expect(answer.errors?.map((error) => error.message)).toEqual(['subgraph unreachable']);
    }
    const retry = run('{ me }');
    await settled(2, 1);
    calls[1]!.resolve(meOf('alice'));
    expect((await retry.answer).data).toEqual({ me: 'alice' });
    await apollo.stop();
  });

  it('holds a follower to its own deadline, without ending the leader', async () => {
    const { apollo, calls, run, settled } = await mergingServer();
    const leader = run('{ me }');
    const hurried = run('{ me }', { deadlineMs: 20 });
    await settled(1, 1);
    const late = await hurried.answer;
    expect(late.data).toBeUndefined();
    expect(late.errors?.map((error) => error.message)).toEqual([
      "The request's deadline passed before the request it merged into was done",
    ]);
    calls[0]!.resolve(meOf('alice'));
    expect((await leader.answer).data).toEqual({ me: 'alice' });
    await apollo.stop();
  });
});
