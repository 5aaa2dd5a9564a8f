import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStripeSim, type StripeEvent, type StripeSim } from '@fleet/stripe-sim';
import { signedPost, type Engine, type Principal } from '@fleet/service-kit';
import { tableEffects } from '../../../../../test/support/billing-payments.js';
import { startBillingUnderTest, type BillingUnderTest } from '../../../../../test/support/billing-service.js';
import {
  findInDatabase,
  findInFiles,
  findPaymentDataInDatabase,
} from '../../../../../test/support/pii-scan.js';
import { postgresSuiteEnabled } from '../../../../../test/support/postgres.js';
import { eventually } from '../../../../../test/support/test-federation.js';

/**
 * The billing service on its own, as it runs in production with the stripe provider: the
 * tenant's owner starts Checkout through GraphQL (the real SDK against the simulator), and
 * Stripe's deliveries reach `POST /webhooks/stripe` as the gateway forwards them, signed with
 * the gateway's key. What changed is read back through GraphQL and from the outbox's events.
 */

const engines: { engine: Engine; enabled: boolean }[] = [
  { engine: 'pglite', enabled: true },
  { engine: 'postgres', enabled: await postgresSuiteEnabled() },
];

function user(tenantId: string, scopes: string[]): Principal & { kind: 'user' } {
  return { kind: 'user', userId: randomUUID(), tenantId, roles: [], scopes, sessionId: randomUUID() };
}

const SUBSCRIPTION =
  'query($t: ID!) { _entities(representations: [{ __typename: "Tenant", id: $t }]) { ... on Tenant { subscription { status plan { id } provider } } } }';

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
    let effects: Awaited<ReturnType<typeof tableEffects>>;

    beforeAll(async () => {
      sim = await startStripeSim();
      effects = await tableEffects();
      billing = await startBillingUnderTest(engine, stripeEnv(sim), { paymentEffects: effects });
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

    const subscriptionOf = async (tenantId: string) => {
      const answer = await billing.graphql<{ _entities: { subscription: Record<string, unknown> }[] }>(
        user(tenantId, ['billing:read']),
        SUBSCRIPTION,
        { t: tenantId },
      );
      return answer.data!._entities[0]!.subscription;
    };

    const webhookOutcomes = () =>
      billing.ingest.events.filter((event) => event.type === 'payment.webhook').map((event) => event.payload);

    /** The owner starts Checkout through billing's GraphQL, then completes it at Stripe. */
    const checkout = async () => {
      const tenantId = randomUUID();
      const started = await billing.graphql<{ startCheckout: { id: string; url: string } }>(
        user(tenantId, ['billing:read', 'billing:write']),
        'mutation($t: ID!) { startCheckout(tenantId: $t, planId: "pro") { id url } }',
        { t: tenantId },
      );
      expect(started.errors).toBeUndefined();
      const { id, url } = started.data!.startCheckout;
      expect(url).toBe(`${sim.url}/checkout/${id}`);
      const { events } = await sim.completeCheckout(id);
      const [created, completed] = events as [StripeEvent, StripeEvent];
      return { tenantId, created, completed, subscriptionId: String(created.data.object.id) };
    };

    it('applies a completed checkout delivered through the route', async () => {
      const { tenantId, completed, subscriptionId } = await checkout();
      const session = sim.object(String(completed.data.object.id))!;
      const customer = sim.object(String(session.customer))!;
      // Stripe knows the tenant by its id alone.
      expect(customer).toMatchObject({ email: null, name: null, phone: null, metadata: { tenantId } });

      expect(await deliver(completed)).toEqual({ status: 200, body: { received: true, outcome: 'applied' } });
      expect(await subscriptionOf(tenantId)).toMatchObject({ plan: { id: 'pro' }, provider: 'stripe' });
      expect(effects.calls.at(-2)).toMatchObject({
        name: 'attachProvider',
        change: { tenantId, customerId: customer.id, subscriptionId },
      });
      await eventually(() =>
        webhookOutcomes().find(
          (payload) => payload.eventId === completed.id && payload.outcome === 'applied',
        ),
      );
    });

    it('refuses a bad or missing signature with a 400, and nothing changes', async () => {
      const { tenantId, completed } = await checkout();
      const before = await subscriptionOf(tenantId);
      const calls = effects.calls.length;
      const refusals = webhookOutcomes().filter((payload) => payload.outcome === 'refused').length;
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
      expect(await subscriptionOf(tenantId)).toEqual(before);
      expect(effects.calls).toHaveLength(calls);
      await eventually(() =>
        webhookOutcomes().filter((payload) => payload.outcome === 'refused').length === refusals + 2
          ? true
          : undefined,
      );
      // The genuine delivery still applies.
      expect((await deliver(completed)).body).toEqual({ received: true, outcome: 'applied' });
    });

    it('refuses a stale signature with a 400', async () => {
      const { tenantId, completed } = await checkout();
      const stale = await deliver(completed, { timestamp: Math.floor(Date.now() / 1000) - 3600 });
      expect(stale.status).toBe(400);
      expect(JSON.stringify(stale.body)).toMatch(/tolerance/);
      expect(await subscriptionOf(tenantId)).toMatchObject({ plan: { id: 'free' } });
    });

    it('answers a replay as a duplicate, and an older event as stale', async () => {
      const { tenantId, completed, subscriptionId } = await checkout();
      await deliver(completed);
      expect((await deliver(completed)).body).toEqual({ received: true, outcome: 'duplicate' });
      sim.advanceClock(5);
      const pastDue = (await sim.setSubscriptionStatus(subscriptionId, 'past_due')).events[0]!;
      sim.advanceClock(5);
      const canceled = (await sim.setSubscriptionStatus(subscriptionId, 'canceled')).events[0]!;
      expect((await deliver(canceled)).body).toEqual({ received: true, outcome: 'applied' });
      expect((await deliver(pastDue)).body).toEqual({ received: true, outcome: 'stale' });
      expect(await subscriptionOf(tenantId)).toMatchObject({ status: 'CANCELED' });
    });

    it('accepts only the gateway, signed with the gateway/billing key', async () => {
      const { completed } = await checkout();
      const other = Buffer.alloc(32, 7);
      expect((await forward(sim.signed(completed.id), other)).status).toBe(401);
      const unsigned = await fetch(`${billing.baseUrl}/webhooks/stripe`, {
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
      const { tenantId, completed } = await checkout();
      await deliver(completed);
      await billing.ingest.event(billing.ingest.events.at(-1)!.id);
      // What the customer typed on Stripe's page is in the event billing received…
      expect(sim.signed(completed.id).payload).toContain('owner@customer.example');
      const entered = ['owner@customer.example', 'Simulated Owner'];
      // …and nowhere in billing's database; the tenant's id, which billing keeps, is found.
      if (billing.databaseUrl) {
        expect(await findInDatabase(billing.databaseUrl, entered)).toEqual([]);
        expect(await findPaymentDataInDatabase(billing.databaseUrl)).toEqual([]);
        expect(await findInDatabase(billing.databaseUrl, [tenantId])).not.toEqual([]);
      } else {
        expect(await findInFiles(billing.dataDir, entered)).toEqual([]);
        expect(await findInFiles(billing.dataDir, [completed.id])).not.toEqual([]);
      }
      const shipped = JSON.stringify(billing.ingest.events);
      for (const value of entered) expect(shipped).not.toContain(value);
    });
  });
});

describe('billing before its subscription code takes providers’ events', () => {
  let sim: StripeSim;
  let billing: BillingUnderTest;

  beforeAll(async () => {
    sim = await startStripeSim();
    billing = await startBillingUnderTest('pglite', stripeEnv(sim));
  });

  afterAll(async () => {
    await billing?.stop();
    await sim?.stop();
  });

  it('fails an event that would change something (Stripe delivers it again), and takes the others', async () => {
    const customer = await fetch(`${sim.url}/v1/customers`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${sim.secretKey}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: `metadata[tenantId]=${randomUUID()}`,
    });
    const customerId = String(((await customer.json()) as { id: string }).id);
    const invoice = await fetch(`${sim.url}/v1/invoices`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${sim.secretKey}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: `customer=${customerId}&currency=eur`,
    });
    const invoiceId = String(((await invoice.json()) as { id: string }).id);
    await fetch(`${sim.url}/v1/invoices/${invoiceId}/finalize`, {
      method: 'POST',
      headers: { authorization: `Bearer ${sim.secretKey}` },
    });
    const finalized = sim.events().find((event) => event.type === 'invoice.finalized')!;
    const post = (event: StripeEvent) =>
      signedPost({
        caller: 'gateway',
        audience: 'billing',
        key: billing.gatewayKey,
        baseUrl: billing.baseUrl,
        path: '/webhooks/stripe',
        body: JSON.stringify({
          ...sim.signed(event.id),
          payload: Buffer.from(sim.signed(event.id).payload).toString('base64'),
        }),
      });
    expect((await post(finalized)).status).toBe(200);

    const tenantId = randomUUID();
    const started = await billing.graphql<{ startCheckout: { id: string } }>(
      user(tenantId, ['billing:write']),
      'mutation($t: ID!) { startCheckout(tenantId: $t, planId: "pro") { id } }',
      { t: tenantId },
    );
    const { events } = await sim.completeCheckout(started.data!.startCheckout.id);
    const completed = events.find((event) => event.type === 'checkout.session.completed')!;
    expect((await post(completed)).status).toBe(500);
    expect((await post(completed)).status).toBe(500);
  });
});
