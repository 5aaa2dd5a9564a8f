import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestRestore, type OutboxEvent, type RestoreRequest } from '@fleet/outbox';
import { decodeKey, generateKey } from '@fleet/request-signing';
import { encodePrincipal, type Engine, type Principal } from '@fleet/service-kit';
import type { AuditIngest } from '../../../../test/support/audit-ingest.js';
import { startBillingUnderTest, type BillingUnderTest } from '../../../../test/support/billing-service.js';
import { postgresSuiteEnabled } from '../../../../test/support/postgres.js';
import { signedPostTo } from '../../../../test/support/service-under-test.js';
import { eventually } from '../../../../test/support/test-federation.js';
import { testPki } from '../../../../test/support/test-pki.js';

const pki = await testPki();

/**
 * The billing service, started on its own as it runs in production (its own database, its
 * outbox shipping to a stand-in for audit's ingest), restoring a tenant's plan when audit asks
 * it by a signed `POST /restore`.
 */

function user(tenantId: string, scopes: string[]): Principal & { kind: 'user' } {
  return { kind: 'user', userId: randomUUID(), tenantId, roles: [], scopes, sessionId: randomUUID() };
}

const platformAdmin = user(randomUUID(), ['platform:admin']);

const engines: { engine: Engine; enabled: boolean }[] = [
  { engine: 'pglite', enabled: true },
  { engine: 'postgres', enabled: await postgresSuiteEnabled() },
];

describe.each(engines)('billing on $engine', ({ engine, enabled }) => {
  describe.skipIf(!enabled)('restores of a subscription', () => {
    let billing: BillingUnderTest;
    let baseUrl: string;
    let gatewayKey: Buffer;
    let auditKey: Buffer;
    let ingest: AuditIngest;

    beforeAll(async () => {
      billing = await startBillingUnderTest(engine);
      ({ baseUrl, gatewayKey, auditKey, ingest } = billing);
    });

    afterAll(() => billing?.stop());

    const graphql = <T>(principal: Principal, query: string, variables: Record<string, unknown>) =>
      billing.graphql<T>(principal, query, variables);

    /** A new tenant whose plan was changed to each of `plans` in turn; answers its events. */
    async function tenantWithPlans(...plans: string[]): Promise<{ tenantId: string; events: OutboxEvent[] }> {
      const tenantId = randomUUID();
      for (const planId of plans) {
        const changed = await graphql(
          platformAdmin,
          'mutation($t: ID!, $p: ID!) { changeTenantPlan(tenantId: $t, planId: $p) { id } }',
          { t: tenantId, p: planId },
        );
        expect(changed.errors).toBeUndefined();
      }
      return { tenantId, events: await eventsOf(tenantId, plans.length) };
    }

    async function planOf(tenantId: string): Promise<string> {
      const read = await graphql<{ _entities: { plan: { id: string } }[] }>(
        platformAdmin,
        'query($t: ID!) { _entities(representations: [{ __typename: "Tenant", id: $t }]) { ... on Tenant { plan { id } } } }',
        { t: tenantId },
      );
      expect(read.errors).toBeUndefined();
      return read.data!._entities[0]!.plan.id;
    }

    /** The subscription's events audit has received, once there are `count` of them, in order. */
    function eventsOf(tenantId: string, count: number): Promise<OutboxEvent[]> {
      return eventually(() => {
        const events = ingest.events
          .filter((event) => event.aggregateType === 'subscription' && event.aggregateId === tenantId)
          .sort((a, b) => a.sequence - b.sequence);
        return events.length >= count ? events : undefined;
      });
    }

    function restoreTo(event: OutboxEvent, state: Record<string, unknown> = event.payload): RestoreRequest {
      return {
        aggregateType: 'subscription',
        aggregateId: event.aggregateId,
        state,
        asOf: event.occurredAt,
        sequence: event.sequence,
      };
    }

    function restore(principal: Principal, request: RestoreRequest) {
      return requestRestore({
        owner: 'billing',
        ownerUrl: baseUrl,
        key: auditKey,
        tls: pki.tls('audit'),
        principal,
        restore: request,
      });
    }

    it('puts the tenant back on its earlier plan, as a new subscription.restored change', async () => {
      const { tenantId, events } = await tenantWithPlans('pro', 'enterprise');
      const billingPerson = user(tenantId, ['tenant:read', 'billing:read', 'billing:write']);
      const answer = await restore(billingPerson, restoreTo(events[0]!));
      expect(answer.ok, JSON.stringify(answer)).toBe(true);
      if (!answer.ok) return;
      expect(answer.result.state).toMatchObject({ tenantId, planId: 'pro' });
      expect(await planOf(tenantId)).toBe('pro');
      const recorded = await ingest.event(answer.result.eventId);
      expect(recorded).toMatchObject({
        source: 'billing',
        aggregateType: 'subscription',
        aggregateId: tenantId,
        sequence: 3,
        type: 'subscription.restored',
        tenantId,
        actor: { kind: 'user', id: billingPerson.userId },
        payload: { tenantId, planId: 'pro' },
      });
      // History is kept: the change it undid is still there.
      expect((await eventsOf(tenantId, 3)).map((event) => event.type)).toEqual([
        'subscription.plan_changed',
        'subscription.plan_changed',
        'subscription.restored',
      ]);
    });

    it('lets a platform administrator restore any tenant', async () => {
      const { tenantId, events } = await tenantWithPlans('enterprise', 'free');
      const answer = await restore(platformAdmin, restoreTo(events[0]!));
      expect(answer).toMatchObject({ ok: true, result: { state: { tenantId, planId: 'enterprise' } } });
      expect(await planOf(tenantId)).toBe('enterprise');
    });

    it('accepts only audit, signed with the audit/billing key', async () => {
      const { tenantId, events } = await tenantWithPlans('pro', 'free');
      const body = JSON.stringify(restoreTo(events[0]!));
      const attempts = [
        { caller: 'audit', key: decodeKey(generateKey()) as Buffer, audience: 'billing' },
        { caller: 'audit', key: gatewayKey, audience: 'billing' },
        { caller: 'gateway', key: gatewayKey, audience: 'billing' },
        { caller: 'billing', key: auditKey, audience: 'billing' },
        { caller: 'audit', key: auditKey, audience: 'devices' },
      ];
      for (const attempt of attempts) {
        // Over audit's connection, the one /restore takes: what is tested is the signature.
        const response = await signedPostTo('billing', pki.tls('audit'), {
          ...attempt,
          baseUrl,
          path: '/restore',
          body,
          principal: encodePrincipal(platformAdmin),
        });
        expect(response.status, JSON.stringify(attempt)).toBe(401);
        await response.body?.cancel();
      }
      expect(await planOf(tenantId)).toBe('free');
    });

    it('needs billing:write in the tenant, and changes nothing without it', async () => {
      const { tenantId, events } = await tenantWithPlans('pro', 'free');
      const refused = [
        user(tenantId, ['tenant:read', 'billing:read', 'audit:restore']),
        user(randomUUID(), ['tenant:read', 'billing:read', 'billing:write']),
        { kind: 'apiKey', keyId: randomUUID(), tenantId: randomUUID(), scopes: ['billing:write'] } as const,
        { kind: 'anonymous' } as const,
      ];
      for (const principal of refused) {
        expect(await restore(principal, restoreTo(events[0]!))).toEqual({
          ok: false,
          status: 403,
          code: 'FORBIDDEN',
          message: "Restoring a tenant's subscription needs billing:write in that tenant",
        });
      }
      expect(await planOf(tenantId)).toBe('free');
    });

    it('refuses a bad state with a message naming the problem, and changes nothing', async () => {
      const { tenantId, events } = await tenantWithPlans('pro', 'free');
      const first = events[0]!;
      const cases: [RestoreRequest, string][] = [
        [
          restoreTo(first, { tenantId, planId: 'gold' }),
          'The state to restore names the plan "gold", which no longer exists',
        ],
        [
          restoreTo(first, { tenantId, planId: 7 }),
          'The state to restore is invalid: planId must be a plan id of 1 to 64 characters',
        ],
        [
          restoreTo(first, { tenantId: randomUUID(), planId: 'pro' }),
          'The state to restore is of another tenant',
        ],
        [restoreTo(first, { planId: 'pro' }), 'The state to restore is of another tenant'],
        [
          { ...restoreTo(first), sequence: 3 },
          "sequence 3 is beyond this subscription's history (its last change is 2)",
        ],
        [
          { ...restoreTo(first), aggregateType: 'device' },
          'This service restores no entity of type "device" (only: subscription)',
        ],
      ];
      for (const [request, message] of cases) {
        expect(await restore(platformAdmin, request)).toEqual({
          ok: false,
          status: 400,
          code: 'BAD_USER_INPUT',
          message,
        });
      }
      expect(await planOf(tenantId)).toBe('free');
      // Nothing was recorded: the next change is the subscription's third.
      const answer = await restore(platformAdmin, restoreTo(first));
      expect(answer.ok && (await ingest.event(answer.result.eventId)).sequence).toBe(3);
    });

    it('finds no subscription to restore for a tenant whose plan never changed', async () => {
      const tenantId = randomUUID();
      const answer = await restore(platformAdmin, {
        aggregateType: 'subscription',
        aggregateId: tenantId,
        state: { tenantId, planId: 'pro' },
        asOf: new Date().toISOString(),
        sequence: 1,
      });
      expect(answer).toEqual({
        ok: false,
        status: 404,
        code: 'NOT_FOUND',
        message: 'Subscription not found',
      });
      expect(await planOf(tenantId)).toBe('free');
    });
  });
});
