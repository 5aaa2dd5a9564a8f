import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/devices-service.js';
import { addMember, bearer, signIn, type TestMember } from '../support/identities.js';
import { startTcpRecorder, type TcpRecorder } from '../support/tcp-recorder.js';
import {
  createTenant,
  eventually,
  startTestFederation,
  type TestFederation,
} from '../support/test-federation.js';

const ME = '{ me { id email tenant { id } } }';
const REQUESTS_EACH = 20;

interface Caller {
  name: string;
  member: TestMember;
  tenantId: string;
  headers: Record<string, string>;
}

interface Answer {
  requestId: string;
  status: number;
  /** What is left of the caller's own budget ("user" policy) after this request. */
  userRemaining: number;
  body: { data?: { me: { id: string; email: string; tenant: { id: string } } } | null; errors?: unknown[] };
}

/**
 * Request merging through the real gateway: identical queries in flight at once share one
 * execution only within one caller's scope. aaa answers through a relay that holds its answers
 * while a test wants it slow, so that identical requests are sure to be in flight together.
 * (Merging does not depend on the database engine: this suite runs on the embedded one.)
 */
describe('request merging at the gateway', () => {
  let fleet: TestFederation;
  let aaaRelay: TcpRecorder;
  let aaaHoldMs = 0;
  let callers: Caller[];

  beforeAll(async () => {
    const aaaPort = await freePort();
    aaaRelay = await startTcpRecorder(aaaPort, { replyDelayMs: () => aaaHoldMs });
    fleet = await startTestFederation({
      engine: 'pglite',
      ports: { aaa: aaaPort },
      overrides: { gateway: { GATEWAY_AAA_URL: `https://127.0.0.1:${aaaRelay.port}/graphql` } },
    });
    const acme = await createTenant(fleet, 'Acme', 'acme');
    const globex = await createTenant(fleet, 'Globex', 'globex');
    const people = [
      { name: 'alice', tenant: { id: acme, slug: 'acme' } },
      { name: 'bob', tenant: { id: acme, slug: 'acme' } },
      { name: 'carol', tenant: { id: globex, slug: 'globex' } },
    ];
    callers = [];
    for (const { name, tenant } of people) {
      const member = await addMember(fleet, tenant, {
        email: `${name}@${tenant.slug}.example`,
        fullName: name,
        roles: ['owner'],
      });
      const { accessToken } = await signIn(fleet, member);
      callers.push({ name, member, tenantId: tenant.id, headers: bearer(accessToken) });
    }
  });

  afterAll(async () => {
    await fleet?.destroy();
    await aaaRelay?.close();
  });

  const ask = async (caller: Caller): Promise<Answer> => {
    const requestId = `merge-${caller.name}-${randomUUID()}`;
    const response = await fleet.fetch(fleet.gatewayUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': requestId, ...caller.headers },
      body: JSON.stringify({ query: ME }),
    });
    const remaining = /"user";r=(\d+)/.exec(response.headers.get('ratelimit') ?? '');
    if (!remaining) throw new Error(`no user budget in ${response.headers.get('ratelimit')}`);
    return {
      requestId,
      status: response.status,
      userRemaining: Number(remaining[1]),
      body: (await response.json()) as Answer['body'],
    };
  };

  /** The request ids among `answers` that aaa saw: the executions that reached the subgraph. */
  const reachedAaa = (answers: readonly Answer[]) => {
    const logs = fleet.logs('aaa');
    return answers.filter(({ requestId }) => logs.some((line) => line.includes(requestId)));
  };

  it('gives each caller only its own data, and charges every request as if it ran', async () => {
    // Two sequential requests each: the cost of one, and the schema's plan ready.
    const costs = new Map<string, { cost: number; remaining: number }>();
    for (const caller of callers) {
      const first = await ask(caller);
      const second = await ask(caller);
      costs.set(caller.name, {
        cost: first.userRemaining - second.userRemaining,
        remaining: second.userRemaining,
      });
    }
    aaaHoldMs = 500;
    let answers: { caller: Caller; answer: Answer }[];
    try {
      // Interleaved: alice, bob, carol, alice, bob, carol, ...
      const asked = Array.from({ length: REQUESTS_EACH }, () => callers).flat();
      answers = await Promise.all(asked.map(async (caller) => ({ caller, answer: await ask(caller) })));
    } finally {
      aaaHoldMs = 0;
    }
    for (const { caller, answer } of answers) {
      expect(answer.status, caller.name).toBe(200);
      expect(answer.body.errors, caller.name).toBeUndefined();
      expect(answer.body.data?.me, caller.name).toEqual({
        id: caller.member.userId,
        email: caller.member.email,
        tenant: { id: caller.tenantId },
      });
    }
    for (const caller of callers) {
      // Every follower paid its cost: the next request sees all of them spent.
      const { cost, remaining } = costs.get(caller.name)!;
      expect(cost, caller.name).toBeGreaterThan(0);
      const after = await ask(caller);
      expect(after.userRemaining, caller.name).toBe(remaining - (REQUESTS_EACH + 1) * cost);
      // aaa logs in order: once the later request shows, every line of the burst has.
      await eventually(() => (reachedAaa([after]).length === 1 ? true : undefined));
      // Identical requests of one caller in flight together: fewer executions than requests.
      const own = answers.filter((entry) => entry.caller === caller).map(({ answer }) => answer);
      const executed = reachedAaa(own);
      expect(executed.length, caller.name).toBeGreaterThanOrEqual(1);
      expect(executed.length, caller.name).toBeLessThan(REQUESTS_EACH);
    }
  });

  it('does not merge identical mutations: each runs', async () => {
    const caller = callers[0]!;
    aaaHoldMs = 500;
    let answers: Answer[];
    try {
      answers = await Promise.all(
        Array.from({ length: 5 }, async () => {
          const requestId = `merge-mutation-${randomUUID()}`;
          const response = await fleet.fetch(fleet.gatewayUrl, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-request-id': requestId, ...caller.headers },
            body: JSON.stringify({
              query:
                'mutation($tenant: ID!) { setTenantMfaRequired(tenantId: $tenant, required: false) { id } }',
              variables: { tenant: caller.tenantId },
            }),
          });
          await response.text();
          return { requestId, status: response.status, userRemaining: 0, body: {} };
        }),
      );
    } finally {
      aaaHoldMs = 0;
    }
    expect(answers.map(({ status }) => status)).toEqual(answers.map(() => 200));
    // Merged, only one would ever reach aaa.
    await eventually(() => (reachedAaa(answers).length === answers.length ? true : undefined));
  });
});
