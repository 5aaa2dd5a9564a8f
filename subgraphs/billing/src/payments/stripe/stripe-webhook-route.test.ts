import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { fetch } from 'undici';
import type { OutboxEvent } from '@fleet/outbox';
import { startStripeSim, type CustomerDetails, type StripeEvent, type StripeSim } from '@fleet/stripe-sim';
import { signedPost, type Engine, type Principal } from '@fleet/service-kit';
import { startBillingUnderTest, type BillingUnderTest } from '../../../../../test/support/billing-service.js';
import {
  findInDatabase,
  findInFiles,
  findPaymentDataInDatabase,
  findPaymentDataInFiles,
} from '../../../../../test/support/pii-scan.js';
import { postgresSuiteEnabled } from '../../../../../test/support/postgres.js';
import { eventually } from '../../../../../test/support/test-federation.js';
import { testPki } from '../../../../../test/support/test-pki.js';

/**
 * The billing service on its own, as it runs in production with the stripe provider: the
 * tenant's owner starts Checkout through GraphQL (the real SDK against the simulator), and
 * Stripe's deliveries reach `POST /webhooks/stripe` as the gateway forwards them, signed with
 * the gateway's key, applied by billing's own subscription code. What each delivery did is read
 * back through GraphQL and from the events billing's outbox ships to audit.
 */

const engines: { engine: Engine; enabled: boolean }[] = [
  { engine: 'pglite', enabled: true },
  { engine: 'postgres', enabled: await postgresSuiteEnabled() },
];

const DAY = 86_400_000;
const STRIPE = { kind: 'system', id: 'stripe' };

function user(tenantId: string, scopes: string[]): Principal & { kind: 'user' } {
  return { kind: 'user', userId: randomUUID(), tenantId, roles: [], scopes, sessionId: randomUUID() };
}

const SUBSCRIPTION = `query($t: ID!) { _entities(representations: [{ __typename: "Tenant", id: $t }]) {
  ... on Tenant { subscription { status plan { id } provider trialEndsAt pastDueSince canceledAt } } } }`;

interface Subscription {
  status: string;
  plan: { id: string };
  provider: string;
  trialEndsAt: string | null;
  pastDueSince: string | null;
  canceledAt: string | null;
}

function stripeEnv(sim: StripeSim): Record<string, string> {
  return {
    BILLING_PAYMENT_PROVIDER: 'stripe',
    BILLING_STRIPE_SECRET_KEY: sim.secretKey,
    BILLING_STRIPE_WEBHOOK_SECRET: sim.webhookSecret,
    BILLING_STRIPE_API_URL: sim.url,
    BILLING_STRIPE_SUCCESS_URL: 'https://fleet.example/billing/subscribed',
    BILLING_STRIPE_CANCEL_URL: 'https://fleet.example/billing',
  };
}

describe.each(engines)('billing’s Stripe webhook route on $engine', ({ engine, enabled }) => {
  describe.skipIf(!enabled)('', () => {
    let sim: StripeSim;
    let billing: BillingUnderTest;

    beforeAll(async () => {
      sim = await startStripeSim();
      billing = await startBillingUnderTest(engine, stripeEnv(sim));
    });

    afterAll(async () => {
      await billing?.stop();
      await sim?.stop();
    });

    /** POSTs a delivery to billing as the gateway forwards it. */
    const forward = async (
      body: { payload: string; signature?: string } | string,
      key = billing.gatewayKey,
    ) => {
      const response = await signedPost({
        caller: 'gateway',
        audience: 'billing',
        key,
        baseUrl: billing.baseUrl,
        path: '/webhooks/stripe',
        tls: (await testPki()).tls('gateway'),
        body:
          typeof body === 'string'
            ? body
            : JSON.stringify({
                signature: body.signature,
                payload: Buffer.from(body.payload).toString('base64'),
              }),
      });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    const deliver = (event: StripeEvent, options: { timestamp?: number; secret?: string } = {}) =>
      forward(sim.signed(event.id, options));

    const subscriptionOf = async (tenantId: string): Promise<Subscription> => {
      const answer = await billing.graphql<{ _entities: { subscription: Subscription }[] }>(
        user(tenantId, ['billing:read']),
        SUBSCRIPTION,
        { t: tenantId },
      );
      expect(answer.errors).toBeUndefined();
      return answer.data!._entities[0]!.subscription;
    };

    const shipped = () => billing.ingest.events;
    /** The record of a delivery once audit has it: the changes it made were shipped before it. */
    const outcomeOf = (eventId: string, outcome: string) =>
      eventually(() =>
        shipped().find(
          (event) =>
            event.type === 'payment.webhook' &&
            event.payload.eventId === eventId &&
            event.payload.outcome === outcome,
        ),
      );
    /** What billing shipped of the tenant's subscription, oldest first. */
    const changesOf = (tenantId: string): OutboxEvent[] =>
      shipped().filter((event) => event.aggregateType === 'subscription' && event.aggregateId === tenantId);

    /** Stripe's ids billing keeps for the tenant, read from its database (PostgreSQL only). */
    const storedAccount = async (tenantId: string) => {
      if (!billing.databaseUrl) return undefined;
      const client = new pg.Client({ connectionString: billing.databaseUrl });
      await client.connect();
      try {
        const { rows } = await client.query<Record<string, string | null>>(
          'select provider, provider_customer_id, provider_subscription_id from subscription where tenant_id = $1',
          [tenantId],
        );
        return rows[0];
      } finally {
        await client.end();
      }
    };

    /** The owner starts Checkout through billing's GraphQL, then completes it at Stripe. */
    const checkout = async (tenantId = randomUUID(), details?: CustomerDetails) => {
      const started = await billing.graphql<{ startCheckout: { id: string; url: string } }>(
        user(tenantId, ['billing:read', 'billing:write']),
        'mutation($t: ID!) { startCheckout(tenantId: $t, planId: "pro") { id url } }',
        { t: tenantId },
      );
      expect(started.errors).toBeUndefined();
      const { id, url } = started.data!.startCheckout;
      expect(url).toBe(`${sim.url}/checkout/${id}`);
      const { events } = await sim.completeCheckout(id, details);
      const created = events.find((event) => event.type === 'customer.subscription.created')!;
      const completed = events.find((event) => event.type === 'checkout.session.completed')!;
      const customerId = String(sim.object(id)!.customer);
      return { tenantId, created, completed, customerId, subscriptionId: String(created.data.object.id) };
    };
    /** …and billing applied Stripe's news of it. */
    const subscribed = async () => {
      const made = await checkout();
      expect((await deliver(made.completed)).body).toEqual({ received: true, outcome: 'applied' });
      await outcomeOf(made.completed.id, 'applied');
      return made;
    };

    it('puts the tenant on Pro, trialing, with Stripe’s agreement, once Checkout is completed', async () => {
      const { tenantId, completed, customerId, subscriptionId } = await checkout();
      // Stripe knows the tenant by its id alone.
      expect(sim.object(customerId)).toMatchObject({
        email: null,
        name: null,
        phone: null,
        metadata: { tenantId },
      });
      expect(await subscriptionOf(tenantId)).toMatchObject({ status: 'ACTIVE', plan: { id: 'free' } });

      const delivered = Date.now();
      expect(await deliver(completed)).toEqual({ status: 200, body: { received: true, outcome: 'applied' } });
      const subscription = await subscriptionOf(tenantId);
      expect(subscription).toMatchObject({ status: 'TRIALING', plan: { id: 'pro' }, provider: 'stripe' });
      // Pro's 14 days of trial.
      expect(Date.parse(subscription.trialEndsAt!)).toBeGreaterThanOrEqual(delivered + 14 * DAY);
      expect(Date.parse(subscription.trialEndsAt!)).toBeLessThanOrEqual(Date.now() + 14 * DAY);

      await outcomeOf(completed.id, 'applied');
      const changes = changesOf(tenantId);
      // The owner's Checkout attached Stripe's customer; Stripe's event the subscription, and the plan.
      expect(changes.map((event) => [event.type, event.actor.kind])).toEqual([
        ['subscription.provider_attached', 'user'],
        ['subscription.provider_attached', 'system'],
        ['subscription.plan_changed', 'system'],
      ]);
      expect(changes.at(-1)).toMatchObject({
        actor: STRIPE,
        tenantId,
        payload: {
          tenantId,
          planId: 'pro',
          status: 'trialing',
          provider: 'stripe',
          previousStatus: 'active',
        },
      });
      // On PostgreSQL, the ids are read in billing's table; on either engine, the next tests
      // show them kept, by what Stripe's later news of that subscription does.
      if (billing.databaseUrl) {
        expect(await storedAccount(tenantId)).toEqual({
          provider: 'stripe',
          provider_customer_id: customerId,
          provider_subscription_id: subscriptionId,
        });
      }
    });

    it('follows Stripe’s news of the subscription: the trial over, past due, then ended', async () => {
      const { tenantId, subscriptionId } = await subscribed();
      const steps: [Parameters<StripeSim['setSubscriptionStatus']>[1], Partial<Subscription>, string][] = [
        ['active', { status: 'ACTIVE', plan: { id: 'pro' }, trialEndsAt: null }, 'subscription.trial_ended'],
        ['past_due', { status: 'PAST_DUE', plan: { id: 'pro' } }, 'subscription.past_due'],
        [
          'canceled',
          { status: 'CANCELED', plan: { id: 'free' }, pastDueSince: null },
          'subscription.canceled',
        ],
      ];
      for (const [status, expected, type] of steps) {
        sim.advanceClock(5);
        const [event] = (await sim.setSubscriptionStatus(subscriptionId, status)).events;
        expect((await deliver(event!)).body, status).toEqual({ received: true, outcome: 'applied' });
        expect(await subscriptionOf(tenantId), status).toMatchObject({ provider: 'stripe', ...expected });
        await outcomeOf(event!.id, 'applied');
        expect(changesOf(tenantId).at(-1), status).toMatchObject({ type, actor: STRIPE });
      }
      const ended = await subscriptionOf(tenantId);
      expect(ended.pastDueSince).toBeNull();
      expect(ended.canceledAt).not.toBeNull();
      expect(changesOf(tenantId).map((event) => event.type)).toEqual([
        'subscription.provider_attached',
        'subscription.provider_attached',
        'subscription.plan_changed',
        'subscription.trial_ended',
        'subscription.past_due',
        'subscription.canceled',
      ]);
    });

    it('ignores news of an older Stripe subscription of the tenant', async () => {
      const first = await subscribed();
      const owner = user(first.tenantId, ['billing:read', 'billing:write']);
      const canceled = await billing.graphql(
        owner,
        'mutation($t: ID!) { cancelSubscription(tenantId: $t) { id } }',
        {
          t: first.tenantId,
        },
      );
      expect(canceled.errors).toBeUndefined();
      // Billing ended the agreement at Stripe; Stripe's news of it is late…
      const lateEnd = sim.events().at(-1)!;
      expect(lateEnd).toMatchObject({ type: 'customer.subscription.deleted' });
      expect(lateEnd.data.object.id).toBe(first.subscriptionId);
      // …and the owner subscribes again before it arrives (the trial was had).
      sim.advanceClock(5);
      const second = await checkout(first.tenantId);
      expect(second.customerId).toBe(first.customerId);
      expect((await deliver(second.completed)).body).toEqual({ received: true, outcome: 'applied' });
      await outcomeOf(second.completed.id, 'applied');
      const before = {
        subscription: await subscriptionOf(first.tenantId),
        changes: changesOf(first.tenantId),
      };
      expect(before.subscription).toMatchObject({
        status: 'ACTIVE',
        plan: { id: 'pro' },
        provider: 'stripe',
      });

      expect(await deliver(lateEnd)).toEqual({ status: 200, body: { received: true, outcome: 'ignored' } });
      await outcomeOf(lateEnd.id, 'ignored');
      expect(await subscriptionOf(first.tenantId)).toEqual(before.subscription);
      expect(changesOf(first.tenantId)).toEqual(before.changes);
      if (billing.databaseUrl) {
        expect(await storedAccount(first.tenantId)).toMatchObject({
          provider_subscription_id: second.subscriptionId,
        });
      }
    });

    it('refuses a bad, missing or stale signature with a 400, and nothing changes', async () => {
      const { tenantId, completed } = await checkout();
      const refusals = () => shipped().filter((event) => event.payload.outcome === 'refused').length;
      const before = {
        subscription: await subscriptionOf(tenantId),
        changes: changesOf(tenantId),
        refusals: refusals(),
      };
      const forged = await deliver(completed, { secret: 'whsec_forgedforgedforged' });
      expect(forged).toEqual({
        status: 400,
        body: {
          errors: [
            {
              message: 'The Stripe-Signature header is missing or does not match the payload',
              extensions: { code: 'BAD_REQUEST' },
            },
          ],
        },
      });
      expect((await forward({ payload: sim.signed(completed.id).payload })).status).toBe(400);
      const stale = await deliver(completed, { timestamp: Math.floor(Date.now() / 1000) - 3600 });
      expect(stale.status).toBe(400);
      expect(JSON.stringify(stale.body)).toMatch(/tolerance/);
      await eventually(() => (refusals() === before.refusals + 3 ? true : undefined));
      expect(await subscriptionOf(tenantId)).toEqual(before.subscription);
      expect(changesOf(tenantId)).toEqual(before.changes);
      // The genuine delivery is the first to be taken.
      expect((await deliver(completed)).body).toEqual({ received: true, outcome: 'applied' });
      expect(await subscriptionOf(tenantId)).toMatchObject({ status: 'TRIALING', plan: { id: 'pro' } });
    });

    it('answers a replay as a duplicate and an older event as stale, and neither changes anything', async () => {
      const { tenantId, completed, subscriptionId } = await subscribed();
      sim.advanceClock(5);
      const [pastDue] = (await sim.setSubscriptionStatus(subscriptionId, 'past_due')).events;
      sim.advanceClock(5);
      const [active] = (await sim.setSubscriptionStatus(subscriptionId, 'active')).events;
      // The newer news first: the trial is over.
      expect((await deliver(active!)).body).toEqual({ received: true, outcome: 'applied' });
      await outcomeOf(active!.id, 'applied');
      const before = { subscription: await subscriptionOf(tenantId), changes: changesOf(tenantId) };
      expect(before.subscription).toMatchObject({ status: 'ACTIVE', plan: { id: 'pro' } });

      expect((await deliver(completed)).body).toEqual({ received: true, outcome: 'duplicate' });
      expect((await deliver(pastDue!)).body).toEqual({ received: true, outcome: 'stale' });
      await outcomeOf(completed.id, 'duplicate');
      await outcomeOf(pastDue!.id, 'stale');
      expect(await subscriptionOf(tenantId)).toEqual(before.subscription);
      expect(changesOf(tenantId)).toEqual(before.changes);
    });

    it('accepts only the gateway, signed with the gateway/billing key', async () => {
      const { completed } = await checkout();
      const other = Buffer.alloc(32, 7);
      expect((await forward(sim.signed(completed.id), other)).status).toBe(401);
      const unsigned = await fetch(`${billing.baseUrl}/webhooks/stripe`, {
        dispatcher: (await testPki()).tls('gateway').dispatcher('billing'),
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'stripe-signature': sim.signed(completed.id).signature,
        },
        body: sim.signed(completed.id).payload,
      });
      expect(unsigned.status).toBe(401);
      expect((await forward('{')).status).toBe(400);
      expect((await forward(JSON.stringify({ payload: 'not base64!' }))).status).toBe(400);
    });

    it('keeps no contact or payment details the customer gave Stripe', async () => {
      const details = {
        email: 'payer@customer.example',
        name: 'Grace Payer',
        country: 'NL',
        phone: '+31 20 555 0199',
      };
      const { completed, subscriptionId } = await checkout(randomUUID(), details);
      expect((await deliver(completed)).body).toEqual({ received: true, outcome: 'applied' });
      await outcomeOf(completed.id, 'applied');
      // What the customer typed on Stripe's page is in the event billing received…
      const entered = [details.email, details.name, details.phone];
      for (const value of entered) expect(sim.signed(completed.id).payload).toContain(value);
      // …and nowhere in billing's database, which does keep Stripe's ids.
      if (billing.databaseUrl) {
        expect(await findInDatabase(billing.databaseUrl, entered)).toEqual([]);
        expect(await findPaymentDataInDatabase(billing.databaseUrl)).toEqual([]);
        expect(await findInDatabase(billing.databaseUrl, [subscriptionId])).not.toEqual([]);
      } else {
        expect(await findInFiles(billing.dataDir, entered)).toEqual([]);
        expect(await findPaymentDataInFiles(billing.dataDir)).toEqual([]);
        const kept = await findInFiles(billing.dataDir, [subscriptionId, completed.id]);
        for (const id of [subscriptionId, completed.id])
          expect(kept.some((found) => found.endsWith(`: ${id}`))).toBe(true);
      }
      const everything = JSON.stringify(shipped());
      for (const value of entered) expect(everything).not.toContain(value);
    });
  });
});
