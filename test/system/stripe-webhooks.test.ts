import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStripeSim, type StripeEvent, type StripeSim } from '@fleet/stripe-sim';
import { addMember, bearer, signIn } from '../support/identities.js';
import {
  findInDatabase,
  findInFiles,
  findInLines,
  findPaymentDataInDatabase,
  findPaymentDataInFiles,
} from '../support/pii-scan.js';
import {
  createTenant,
  engineMatrix,
  eventually,
  startTestFederation,
  type TestFederation,
} from '../support/test-federation.js';

const START_CHECKOUT = 'mutation($t: ID!) { startCheckout(tenantId: $t, planId: "pro") { id url } }';
const SUBSCRIPTION = 'query($id: ID!) { tenant(id: $id) { subscription { status plan { id } provider } } }';
const HISTORY = `query($id: ID!) {
  entityHistory(entityType: "payment_webhook", entityId: $id, first: 10) { edges { node { type payload } } }
}`;
/** What the tenant's owner types on Stripe's Checkout page: Stripe's to keep, never billing's. */
const ENTERED = {
  email: 'margaret@payer.example',
  name: 'Margaret Payer',
  country: 'GB',
  phone: '+44 20 7946 0958',
};
/** Per client address and window: small enough to reach, large enough for the sign-ins of the setup. */
const ANONYMOUS_POINTS = 150;

/**
 * Stripe's deliveries through the real gateway, the only public entry: `POST /webhooks/stripe`
 * forwards the body and the Stripe-Signature to billing, which verifies them (billing's
 * processes run with the stripe provider, against the simulator), and the gateway passes
 * billing's answer through. Checkout starts through GraphQL, on the real SDK in billing's process.
 */
describe.each(await engineMatrix())(
  'Stripe deliveries through the gateway on $engine',
  ({ engine, enabled }) => {
    let sim: StripeSim;
    let fleet: TestFederation;
    let tenantId: string;
    let owner: Record<string, string>;
    let webhookUrl: string;
    /** Stripe's ids of what the owner's Checkout made, which billing keeps. */
    const kept: string[] = [];

    beforeAll(async () => {
      if (!enabled) return;
      sim = await startStripeSim();
      fleet = await startTestFederation({
        engine,
        overrides: {
          gateway: { GATEWAY_RATE_LIMIT_ANONYMOUS_POINTS: String(ANONYMOUS_POINTS) },
          billing: {
            BILLING_PAYMENT_PROVIDER: 'stripe',
            BILLING_STRIPE_SECRET_KEY: sim.secretKey,
            BILLING_STRIPE_WEBHOOK_SECRET: sim.webhookSecret,
            BILLING_STRIPE_API_URL: sim.url,
            BILLING_STRIPE_SUCCESS_URL: 'https://fleet.example/billing/subscribed',
            BILLING_STRIPE_CANCEL_URL: 'https://fleet.example/billing',
          },
        },
      });
      webhookUrl = new URL('/webhooks/stripe', fleet.gatewayUrl).toString();
      tenantId = await createTenant(fleet, 'Stripe Paying', 'stripe-paying');
      const member = await addMember(
        fleet,
        { id: tenantId, slug: 'stripe-paying' },
        { email: 'owner@stripe-paying.example', fullName: 'Paying Owner', roles: ['owner'] },
      );
      owner = bearer((await signIn(fleet, member)).accessToken);
    });

    afterAll(async () => {
      await fleet?.destroy();
      await sim?.stop();
    });

    /** POSTs to the gateway's webhook endpoint as Stripe does. */
    const post = (payload: string, signature?: string) =>
      fleet.fetch(webhookUrl, {
        method: 'POST',
        headers: {
          'content-type': 'application/json; charset=utf-8',
          ...(signature ? { 'stripe-signature': signature } : {}),
        },
        body: payload,
      });
    const deliver = (event: StripeEvent, options: { timestamp?: number; secret?: string } = {}) => {
      const { payload, signature } = sim.signed(event.id, options);
      return post(payload, signature);
    };

    /** An event billing takes without changing anything: the finalizing of an invoice. */
    const finalizedInvoice = async (): Promise<StripeEvent> => {
      const headers = {
        authorization: `Bearer ${sim.secretKey}`,
        'content-type': 'application/x-www-form-urlencoded',
      };
      const customer = (await (
        await fetch(`${sim.url}/v1/customers`, {
          method: 'POST',
          headers,
          body: `metadata[tenantId]=${tenantId}`,
        })
      ).json()) as { id: string };
      const invoice = (await (
        await fetch(`${sim.url}/v1/invoices`, {
          method: 'POST',
          headers,
          body: `customer=${customer.id}&currency=eur&metadata[tenantId]=${tenantId}`,
        })
      ).json()) as { id: string };
      await fetch(`${sim.url}/v1/invoices/${invoice.id}/finalize`, { method: 'POST', headers });
      return sim
        .events()
        .find((event) => event.type === 'invoice.finalized' && event.data.object.id === invoice.id)!;
    };

    it.skipIf(!enabled)(
      'starts Checkout through GraphQL, on the SDK in billing’s process, without PII',
      async () => {
        const started = await fleet.asAdmin<{ startCheckout: { id: string; url: string } }>(START_CHECKOUT, {
          t: tenantId,
        });
        expect(started.errors).toBeUndefined();
        const { id, url } = started.data!.startCheckout;
        expect(url).toBe(`${sim.url}/checkout/${id}`);
        const session = sim.object(id)!;
        expect(session).toMatchObject({
          mode: 'subscription',
          client_reference_id: tenantId,
          status: 'open',
        });
        expect(sim.object(String(session.customer))).toMatchObject({
          email: null,
          name: null,
          metadata: { tenantId },
        });
        // Every call of billing's SDK reached the simulator, with no telemetry.
        expect(sim.requests().map((request) => request.path)).toEqual([
          '/v1/customers',
          '/v1/checkout/sessions',
        ]);
        for (const request of sim.requests())
          expect(request.headers['x-stripe-client-telemetry']).toBeUndefined();
      },
    );

    it.skipIf(!enabled)(
      'takes a genuine delivery, answers its replay as a duplicate, and audit hears of both',
      async () => {
        const event = await finalizedInvoice();
        const taken = await deliver(event);
        expect(taken.status).toBe(200);
        expect(await taken.json()).toEqual({ received: true, outcome: 'ignored' });
        const replayed = await deliver(event);
        expect(await replayed.json()).toEqual({ received: true, outcome: 'duplicate' });
        const history = await eventually(async () => {
          const read = await fleet.asAdmin<{
            entityHistory: { edges: { node: { type: string; payload: unknown } }[] };
          }>(HISTORY, { id: event.id });
          const edges = read.data?.entityHistory.edges ?? [];
          return edges.length === 2 ? edges : undefined;
        });
        expect(history.map((edge) => edge.node)).toEqual([
          {
            type: 'payment.webhook',
            payload: {
              provider: 'stripe',
              eventId: event.id,
              eventType: 'invoice.finalized',
              objectId: event.data.object.id,
              outcome: 'ignored',
              reason: 'a type billing does not act on',
            },
          },
          {
            type: 'payment.webhook',
            payload: {
              provider: 'stripe',
              eventId: event.id,
              eventType: 'invoice.finalized',
              objectId: event.data.object.id,
              outcome: 'duplicate',
            },
          },
        ]);
      },
    );

    it.skipIf(!enabled)('passes billing’s 400 through for a bad, missing or stale signature', async () => {
      const event = await finalizedInvoice();
      const { payload, signature } = sim.signed(event.id);
      const forged = await deliver(event, { secret: 'whsec_notthesecretofthisendpoint' });
      expect(forged.status).toBe(400);
      expect(await forged.json()).toEqual({
        errors: [
          {
            message: 'The Stripe-Signature header is missing or does not match the payload',
            extensions: { code: 'BAD_REQUEST' },
          },
        ],
      });
      expect((await post(payload)).status).toBe(400);
      expect((await post(payload.replace('"livemode": false', '"livemode": true'), signature)).status).toBe(
        400,
      );
      const stale = await deliver(event, { timestamp: Math.floor(Date.now() / 1000) - 600 });
      expect(stale.status).toBe(400);
      expect(JSON.stringify(await stale.json())).toMatch(/tolerance/);
      // None of them was taken: the genuine delivery is the first.
      expect(await (await post(payload, signature)).json()).toEqual({ received: true, outcome: 'ignored' });
    });

    it.skipIf(!enabled)(
      'subscribes the tenant: the owner’s Checkout, Stripe’s delivery through the gateway, the plan read back',
      async () => {
        const started = await fleet.graphql<{ startCheckout: { id: string; url: string } }>(
          START_CHECKOUT,
          { t: tenantId },
          owner,
        );
        expect(started.errors).toBeUndefined();
        const { id, url } = started.data!.startCheckout;
        expect(url).toBe(`${sim.url}/checkout/${id}`);
        const before = await fleet.graphql(SUBSCRIPTION, { id: tenantId }, owner);
        expect(before.data).toEqual({
          tenant: { subscription: { status: 'ACTIVE', plan: { id: 'free' }, provider: 'stripe' } },
        });

        // The owner pays at Stripe, and Stripe reports it to the gateway.
        const { events } = await sim.completeCheckout(id, ENTERED);
        const completed = events.find((event) => event.type === 'checkout.session.completed')!;
        expect(sim.signed(completed.id).payload).toContain(ENTERED.email);
        const taken = await deliver(completed);
        expect(taken.status).toBe(200);
        expect(await taken.json()).toEqual({ received: true, outcome: 'applied' });
        const after = await fleet.graphql(SUBSCRIPTION, { id: tenantId }, owner);
        expect(after.data).toEqual({
          tenant: { subscription: { status: 'TRIALING', plan: { id: 'pro' }, provider: 'stripe' } },
        });
        kept.push(String(sim.object(id)!.subscription), completed.id);
      },
    );

    it.skipIf(!enabled)('takes POST only, and bounds the body', async () => {
      expect((await fleet.fetch(webhookUrl)).status).toBe(405);
      const large = await post(JSON.stringify({ id: 'evt_x', padding: 'x'.repeat(300_000) }), 't=1,v1=00');
      expect(large.status).toBe(413);
    });

    it.skipIf(!enabled)(
      'spends from the sender’s anonymous budget, refusing with 429 once it is spent',
      async () => {
        let refused: Response | undefined;
        for (let attempt = 0; attempt < ANONYMOUS_POINTS * 2 && !refused; attempt++) {
          const response = await post('{}');
          if (response.status === 429) refused = response;
          else expect(response.status).toBe(400);
        }
        expect(refused?.status).toBe(429);
        expect(Number(refused!.headers.get('retry-after'))).toBeGreaterThan(0);
        expect(await refused!.json()).toMatchObject({ errors: [{ extensions: { code: 'RATE_LIMITED' } }] });
      },
    );

    it.skipIf(!enabled)(
      'keeps none of the customer’s details in billing’s database, nor card numbers or email addresses',
      async () => {
        expect(kept).toHaveLength(2);
        const entered = [ENTERED.email, ENTERED.name, ENTERED.phone];
        const database = fleet.databases.billing;
        if (database) {
          expect(await findInDatabase(database.url, entered)).toEqual([]);
          expect(await findPaymentDataInDatabase(database.url)).toEqual([]);
          // The scan sees what billing does keep.
          expect(await findInDatabase(database.url, kept)).not.toEqual([]);
        } else {
          const dir = join(fleet.dataDir, 'billing');
          expect(await findInFiles(dir, entered)).toEqual([]);
          expect(await findPaymentDataInFiles(dir)).toEqual([]);
          const found = await findInFiles(dir, kept);
          for (const id of kept)
            expect(
              found.some((file) => file.endsWith(`: ${id}`)),
              id,
            ).toBe(true);
        }
        expect(findInLines(fleet.logs('billing'), entered)).toEqual([]);
        expect(findInLines(fleet.logs('gateway'), entered)).toEqual([]);
      },
    );
  },
);
