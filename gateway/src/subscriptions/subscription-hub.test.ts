import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { composeServices } from '@apollo/composition';
import { Supergraph } from '@apollo/federation-internals';
import { buildSchema, parse, type FormattedExecutionResult } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import {
  generateKey,
  MemoryReplayGuard,
  SUBSCRIPTION_SIGNATURE_EXTENSION,
  verifySubscription,
} from '@fleet/request-signing';
import { createLogger, type Principal } from '@fleet/service-kit';
import { SubscriptionHub } from './subscription-hub.js';
import { SubscriptionPlanner } from './subscription-planner.js';
import type { SubscriberStream } from './subscriber-stream.js';
import { UpstreamConnections } from './upstream-connections.js';

const CLOCK_SDL = `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@shareable"])
  type Query { ok: Boolean }
  type Subscription { ticks(label: String!): Tick! }
  type Tick { n: Int! label: String! who: String! }
`;
const TICKS = 'subscription($label: String!) { ticks(label: $label) { n label who } }';
const logger = createLogger({ service: 'test', level: 'silent' });
const key = Buffer.from(generateKey(), 'base64url');

const person = (userId: string): Principal => ({
  kind: 'user',
  userId,
  tenantId: 't1',
  roles: [],
  scopes: [],
  sessionId: `session-${userId}`,
});

/**
 * A subgraph over the real graphql-ws protocol: it checks each subscription's signature as the
 * subgraphs do, ticks every 20 ms for whoever subscribed, and counts what it serves.
 */
async function clockSubgraph(port = 0) {
  const schema = buildSchema(
    'type Query { ok: Boolean } type Subscription { ticks(label: String!): Tick! } type Tick { n: Int! label: String! who: String! }',
  );
  const served = { subscribes: 0, active: 0, who: [] as string[] };
  const http: Server = createServer();
  const sockets = new WebSocketServer({ server: http });
  const guard = new MemoryReplayGuard({ retentionMs: 120_000, maxEntries: 10_000 });
  useServer(
    {
      schema,
      onSubscribe: (_ctx, _id, payload) => {
        const verified = verifySubscription({
          audience: 'clock',
          keys: new Map([['gateway', key]]),
          payload,
          signature: payload.extensions?.[SUBSCRIPTION_SIGNATURE_EXTENSION],
          now: Date.now(),
          maxSkewMs: 60_000,
          replayGuard: guard,
        });
        if (!verified.ok) throw new Error(`refused: ${verified.reason}`);
        const principal = JSON.parse(
          Buffer.from(verified.principal, 'base64url').toString('utf8'),
        ) as Principal;
        served.subscribes++;
        served.who.push(principal.kind === 'user' ? principal.userId : '?');
        return {
          schema,
          document: parse(payload.query),
          variableValues: payload.variables,
          contextValue: { who: principal.kind === 'user' ? principal.userId : '?' },
        };
      },
      roots: {
        subscription: {
          ticks: async function* (args: { label: string }, context: { who: string }) {
            if (args.label === 'forbidden')
              throw Object.assign(new Error('Not allowed'), { extensions: { code: 'FORBIDDEN' } });
            served.active++;
            try {
              for (let n = 1; ; n++) {
                await new Promise((resolve) => setTimeout(resolve, 20));
                yield { ticks: { n, label: args.label, who: context.who } };
              }
            } finally {
              served.active--;
            }
          },
        },
      },
    },
    sockets,
  );
  await new Promise<void>((resolve) => http.listen(port, '127.0.0.1', resolve));
  return {
    served,
    port: (http.address() as AddressInfo).port,
    connections: () => sockets.clients.size,
    async close() {
      for (const client of sockets.clients) client.terminate();
      await new Promise((resolve) => sockets.close(resolve));
      await new Promise((resolve) => http.close(resolve));
    },
  };
}

type Clock = Awaited<ReturnType<typeof clockSubgraph>>;

function hubFor(clock: Clock) {
  const composed = composeServices([
    { name: 'clock', url: `http://127.0.0.1:${clock.port}/graphql`, typeDefs: parse(CLOCK_SDL) },
  ]);
  if (composed.errors) throw new Error(composed.errors.map((error) => error.message).join('; '));
  const apiSchema = Supergraph.build(composed.supergraphSdl).apiSchema().toGraphQLJSSchema();
  const planner = new SubscriptionPlanner(composed.supergraphSdl, apiSchema, 10);
  const connections = new UpstreamConnections(
    new Map([['clock', { url: `http://127.0.0.1:${clock.port}/graphql`, key, tls: undefined }]]),
    5_000,
  );
  const hub = new SubscriptionHub({
    connections,
    dataSources: {},
    bufferSize: 4,
    retryMaxMs: 500,
    eventDeadlineMs: 5_000,
    logger,
  });
  const subscribe = (principal: Principal, label: string, query = TICKS) =>
    hub.subscribe(
      {
        planner,
        plan: planner.plan(query, parse(query), null),
        variables: { label },
        operationName: null,
        principal,
        clientAddress: '127.0.0.1',
        logger,
      },
      () => undefined,
    );
  return { hub, connections, subscribe };
}

async function read(stream: SubscriberStream, count: number): Promise<FormattedExecutionResult[]> {
  const events = [];
  for (let index = 0; index < count; index++) {
    const next = await stream.next();
    if (next.done) break;
    events.push(next.value);
  }
  return events;
}

async function until(check: () => boolean): Promise<void> {
  for (let waited = 0; !check(); waited += 10) {
    if (waited > 10_000) throw new Error('condition not met');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('the subscription hub', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  async function setUp() {
    const clock = await clockSubgraph();
    const hub = hubFor(clock);
    cleanup.push(
      () => clock.close(),
      () => hub.connections.close(),
    );
    return { clock, ...hub };
  }

  it('shares one subgraph subscription among identical subscriptions of one principal', async () => {
    const { clock, hub, subscribe } = await setUp();
    const alice = person('alice');
    const first = subscribe(alice, 'a');
    const second = subscribe(alice, 'a');
    const [one, two] = await Promise.all([read(first, 3), read(second, 3)]);
    expect(clock.served.subscribes).toBe(1);
    expect(hub.upstreamCount).toBe(1);
    expect(one.map((event) => event.data)).toEqual(two.map((event) => event.data));
    expect(one[0]).toEqual({
      data: { ticks: { n: expect.any(Number) as number, label: 'a', who: 'alice' } },
    });
    await first.return();
    expect(clock.served.active).toBe(1);
    await second.return();
    // The last one to leave closes it on the subgraph too.
    await until(() => clock.served.active === 0);
    expect(hub.upstreamCount).toBe(0);
  });

  it('gives other principals and other variables subscriptions of their own, on one socket', async () => {
    const { clock, subscribe } = await setUp();
    const streams = [
      subscribe(person('alice'), 'a'),
      subscribe(person('bob'), 'a'),
      subscribe(person('alice'), 'b'),
    ];
    const events = await Promise.all(streams.map((stream) => read(stream, 2)));
    expect(clock.served.subscribes).toBe(3);
    expect(clock.connections()).toBe(1);
    expect(events.map((received) => received[0]!.data)).toEqual([
      { ticks: expect.objectContaining({ label: 'a', who: 'alice' }) as object },
      { ticks: expect.objectContaining({ label: 'a', who: 'bob' }) as object },
      { ticks: expect.objectContaining({ label: 'b', who: 'alice' }) as object },
    ]);
    await Promise.all(streams.map((stream) => stream.return()));
    await until(() => clock.served.active === 0);
  });

  it('subscribes again, freshly signed, when the subgraph comes back, and its subscriber never notices', async () => {
    const { clock, subscribe } = await setUp();
    const stream = subscribe(person('alice'), 'a');
    await read(stream, 2);
    const port = clock.port;
    await clock.close();
    const back = await clockSubgraph(port);
    cleanup.push(() => back.close());
    const after = await read(stream, 3);
    expect(after).toHaveLength(3);
    expect(back.served.subscribes).toBe(1);
    expect(stream.closed).toBe(false);
    await stream.return();
  });

  it('shapes each event into the client’s own selection: aliases, fragments, skipped fields', async () => {
    const { subscribe } = await setUp();
    const query = `subscription($label: String!) {
      tick: ticks(label: $label) { number: n ... on Tick { label } who @skip(if: true) }
    }`;
    const stream = subscribe(person('alice'), 'shaped', query);
    const [event] = await read(stream, 1);
    expect(event).toEqual({ data: { tick: { number: expect.any(Number) as number, label: 'shaped' } } });
    await stream.return();
  });

  it('ends its subscribers with the subgraph’s refusal', async () => {
    const { subscribe } = await setUp();
    const stream = subscribe(person('alice'), 'forbidden');
    const events = await read(stream, 5);
    expect(events).toHaveLength(1);
    expect(events[0]!.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(await stream.next()).toEqual({ value: undefined, done: true });
  });

  it('keeps at most its buffer for a subscriber that does not read', async () => {
    const { subscribe } = await setUp();
    const slow = subscribe(person('alice'), 'a');
    // Ticks come every 20 ms and nobody reads: soon more are dropped than the buffer holds.
    await vi.waitFor(() => expect(slow.dropped).toBeGreaterThan(5), { timeout: 10_000, interval: 50 });
    const events = await read(slow, 4);
    const numbers = events.map((event) => (event.data as { ticks: { n: number } }).ticks.n);
    // The newest four, in order.
    expect(numbers[0]).toBeGreaterThan(5);
    expect(numbers).toEqual([...numbers].sort((a, b) => a - b));
    await slow.return();
  });
});
