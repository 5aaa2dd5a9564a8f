import { randomUUID } from 'node:crypto';
import Stripe from 'stripe';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startStripeSim, type StripeSim } from '@fleet/stripe-sim';
import { ServiceUnavailableError } from '@fleet/service-kit';
import type { PlanRow } from '../../plans/plan-catalog.js';
import type { InvoiceToCollect, ProviderAccount } from '../payment-provider.js';
import { createStripeProvider, type StripeProvider } from './stripe-provider.js';

/** The provider, on the real SDK, against the simulator over loopback. */

const pro: PlanRow = {
  id: 'pro',
  name: 'Pro',
  device_quota: 100,
  rate_limit_tier: 'standard',
  price_minor: 4900,
  device_day_price_minor: 5,
  currency: 'EUR',
  trial_days: 14,
  available: true,
};

let sim: StripeSim;
let provider: StripeProvider;
let stripe: Stripe;
const none: ProviderAccount = { customerId: null, subscriptionId: null };

beforeAll(async () => {
  sim = await startStripeSim();
  provider = createStripeProvider({
    secretKey: sim.secretKey,
    apiUrl: sim.url,
    timeoutMs: 5_000,
    maxNetworkRetries: 0,
    successUrl: 'https://fleet.example/billing/subscribed',
    cancelUrl: 'https://fleet.example/billing',
  });
  stripe = new Stripe(sim.secretKey, { ...sim.clientOptions, maxNetworkRetries: 0 });
});

beforeEach(() => sim.resetRequests());

afterAll(async () => {
  await sim?.stop();
});

/** A tenant that completed Checkout: its account at Stripe. */
async function subscribedTenant(): Promise<{ tenantId: string; account: ProviderAccount }> {
  const tenantId = randomUUID();
  const session = await provider.startCheckout({ tenantId, plan: pro, account: none, trialDays: 0 });
  const { events } = await sim.completeCheckout(session.sessionId);
  return {
    tenantId,
    account: { customerId: session.customerId, subscriptionId: String(events[0]!.data.object.id) },
  };
}

function invoiceOf(tenantId: string, lines: [string, number][]): InvoiceToCollect {
  return {
    id: randomUUID(),
    tenantId,
    period: '2026-05',
    currency: 'EUR',
    totalMinor: lines.reduce((sum, [, amount]) => sum + amount, 0),
    lines: lines.map(([description, amountMinor]) => ({ description, amountMinor })),
  };
}

describe('startCheckout', () => {
  it('makes the customer with the tenant id alone, then a subscription Checkout at a price of 0', async () => {
    const tenantId = randomUUID();
    const session = await provider.startCheckout({ tenantId, plan: pro, account: none, trialDays: 14 });
    expect(session.sessionId).toMatch(/^cs_test_/);
    expect(session.url).toBe(`${sim.url}/checkout/${session.sessionId}`);
    expect(session.customerId).toMatch(/^cus_/);

    const [customer, checkout] = sim.requests();
    expect(customer).toMatchObject({
      method: 'POST',
      path: '/v1/customers',
      params: { metadata: { tenantId } },
    });
    expect(customer!.params).toEqual({ metadata: { tenantId } });
    expect(customer!.idempotencyKey).toBe(`fleet-customer-${tenantId}`);
    expect(sim.object(session.customerId)).toMatchObject({
      email: null,
      name: null,
      phone: null,
      metadata: { tenantId },
    });

    expect(checkout).toMatchObject({ method: 'POST', path: '/v1/checkout/sessions' });
    expect(checkout!.idempotencyKey).toMatch(new RegExp(`^fleet-checkout-${tenantId}-`));
    expect(checkout!.params).toEqual({
      mode: 'subscription',
      customer: session.customerId,
      client_reference_id: tenantId,
      success_url: 'https://fleet.example/billing/subscribed',
      cancel_url: 'https://fleet.example/billing',
      line_items: [
        {
          quantity: '1',
          price_data: {
            currency: 'eur',
            unit_amount: '0',
            recurring: { interval: 'month' },
            product_data: { name: 'Pro' },
          },
        },
      ],
      metadata: { tenantId, planId: 'pro' },
      subscription_data: { metadata: { tenantId, planId: 'pro' }, trial_period_days: '14' },
    });
  });

  it('asks for no trial without trial days, and reuses the customer the tenant has', async () => {
    const first = await provider.startCheckout({
      tenantId: randomUUID(),
      plan: pro,
      account: none,
      trialDays: 0,
    });
    sim.resetRequests();
    const again = await provider.startCheckout({
      tenantId: randomUUID(),
      plan: pro,
      account: { customerId: first.customerId, subscriptionId: null },
      trialDays: 0,
    });
    expect(again.customerId).toBe(first.customerId);
    expect(sim.requests().map((request) => request.path)).toEqual(['/v1/checkout/sessions']);
    expect(sim.requests()[0]!.params.subscription_data).toEqual({ metadata: expect.any(Object) as object });
  });

  it('makes one customer for a tenant, however many times Checkout starts before billing keeps its id', async () => {
    const tenantId = randomUUID();
    const sessions = await Promise.all(
      [1, 2, 3].map(() => provider.startCheckout({ tenantId, plan: pro, account: none, trialDays: 0 })),
    );
    expect(new Set(sessions.map((session) => session.customerId)).size).toBe(1);
    expect(new Set(sessions.map((session) => session.sessionId)).size).toBe(3);
    expect(
      sim.requests().filter((request) => request.path === '/v1/customers' && !request.replayed),
    ).toHaveLength(1);
  });

  it('completes into a trialing subscription that holds the means of payment and billing’s ids', async () => {
    const tenantId = randomUUID();
    const session = await provider.startCheckout({ tenantId, plan: pro, account: none, trialDays: 14 });
    const { events } = await sim.completeCheckout(session.sessionId);
    const subscription = await stripe.subscriptions.retrieve(String(events[0]!.data.object.id));
    expect(subscription).toMatchObject({
      status: 'trialing',
      customer: session.customerId,
      metadata: { tenantId, planId: 'pro' },
      items: { data: [{ price: { unit_amount: 0, currency: 'eur', recurring: { interval: 'month' } } }] },
    });
    expect(subscription.default_payment_method).toMatch(/^pm_/);
  });
});

describe('collect', () => {
  it('hands billing’s invoice over line by line on the subscription, finalized, and answers Stripe’s id', async () => {
    const { tenantId, account } = await subscribedTenant();
    const invoice = invoiceOf(tenantId, [
      ['Pro, 1 to 31 May 2026', 4900],
      ['1,240 device-days at 0.05', 6200],
    ]);
    sim.resetRequests();
    const stripeId = await provider.collect(invoice, account);
    expect(stripeId).toMatch(/^in_/);
    const requests = sim.requests();
    expect(requests.map((request) => request.path)).toEqual([
      '/v1/invoiceitems',
      '/v1/invoiceitems',
      '/v1/invoices',
      `/v1/invoices/${stripeId}/finalize`,
    ]);
    expect(requests[0]!.params).toEqual({
      customer: account.customerId,
      subscription: account.subscriptionId,
      amount: '4900',
      currency: 'eur',
      description: 'Pro, 1 to 31 May 2026',
      metadata: { invoiceId: invoice.id },
    });
    expect(requests[2]!.params).toMatchObject({
      customer: account.customerId,
      subscription: account.subscriptionId,
      collection_method: 'charge_automatically',
      pending_invoice_items_behavior: 'include',
      metadata: { invoiceId: invoice.id, tenantId },
    });
    expect(requests.map((request) => request.idempotencyKey)).toEqual([
      `fleet-invoice-${invoice.id}-line-0`,
      `fleet-invoice-${invoice.id}-line-1`,
      `fleet-invoice-${invoice.id}`,
      `fleet-invoice-${invoice.id}-finalize`,
    ]);
    // The SDK reports nothing about itself: no timings of earlier calls, no telemetry id.
    for (const request of requests) expect(request.headers['x-stripe-client-telemetry']).toBeUndefined();
    const collected = await stripe.invoices.retrieve(stripeId!);
    expect(collected).toMatchObject({
      status: 'open',
      total: 11100,
      amount_due: 11100,
      currency: 'eur',
      collection_method: 'charge_automatically',
      metadata: { invoiceId: invoice.id, tenantId },
      parent: { subscription_details: { subscription: account.subscriptionId } },
    });
    expect(collected.lines.data.map((line) => [line.description, line.amount])).toEqual([
      ['Pro, 1 to 31 May 2026', 4900],
      ['1,240 device-days at 0.05', 6200],
    ]);
  });

  it('is idempotent: collecting again answers the same invoice and makes nothing new', async () => {
    const { tenantId, account } = await subscribedTenant();
    const invoice = invoiceOf(tenantId, [['Pro', 4900]]);
    const first = await provider.collect(invoice, account);
    sim.resetRequests();
    expect(await provider.collect(invoice, account)).toBe(first);
    expect(sim.requests().every((request) => request.replayed)).toBe(true);
    expect(
      sim.events().filter((event) => event.data.object.id === first && event.type === 'invoice.finalized'),
    ).toHaveLength(1);
  });

  it('leaves a draft that is not billing’s invoice unfinalized', async () => {
    const { tenantId, account } = await subscribedTenant();
    // A pending item billing did not make, on the same subscription.
    await stripe.invoiceItems.create({
      customer: account.customerId!,
      subscription: account.subscriptionId!,
      amount: 100,
      currency: 'eur',
    });
    const invoice = invoiceOf(tenantId, [['Pro', 4900]]);
    await expect(provider.collect(invoice, account)).rejects.toThrow(/is not invoice .*left unfinalized/);
    const draft = sim.requests().find((request) => request.path === '/v1/invoices')!;
    expect(sim.requests().some((request) => request.path.endsWith('/finalize'))).toBe(false);
    expect(draft.status).toBe(200);
    const drafts = sim.events().filter((event) => event.type === 'invoice.finalized');
    expect(
      drafts.every(
        (event) => (event.data.object.metadata as Record<string, string>).invoiceId !== invoice.id,
      ),
    ).toBe(true);
  });

  it('answers null for nothing to collect, and refuses to collect without a payment agreement', async () => {
    const { tenantId, account } = await subscribedTenant();
    sim.resetRequests();
    expect(await provider.collect(invoiceOf(tenantId, []), account)).toBeNull();
    await expect(provider.collect(invoiceOf(tenantId, [['Pro', 4900]]), none)).rejects.toThrow(
      /has no payment agreement with Stripe/,
    );
    expect(sim.requests()).toEqual([]);
  });
});

describe('cancel', () => {
  it('cancels the subscription, and a canceled one again without a call that would fail', async () => {
    const { account } = await subscribedTenant();
    await provider.cancel(account);
    expect((await stripe.subscriptions.retrieve(account.subscriptionId!)).status).toBe('canceled');
    sim.resetRequests();
    await provider.cancel(account);
    expect(sim.requests().map((request) => request.method)).toEqual(['GET']);
    await provider.cancel(none);
    expect(sim.requests()).toHaveLength(1);
  });
});

describe('failures', () => {
  it('turns Stripe out of reach into ServiceUnavailableError, and its refusals into errors without secrets', async () => {
    const { account } = await subscribedTenant();
    const elsewhere = createStripeProvider({
      secretKey: 'sk_test_wrongwrongwrong',
      apiUrl: sim.url,
      timeoutMs: 5_000,
      maxNetworkRetries: 0,
      successUrl: 'https://fleet.example/a',
      cancelUrl: 'https://fleet.example/b',
    });
    const refused = await elsewhere.cancel(account).catch((error: unknown) => error as Error);
    expect(refused).toBeInstanceOf(Error);
    expect(refused!.message).toBe('Stripe refused to read the subscription: StripeAuthenticationError');
    expect(refused!.message).not.toContain('wrong');
    await sim.stop();
    try {
      await expect(provider.cancel(account)).rejects.toBeInstanceOf(ServiceUnavailableError);
    } finally {
      await sim.start();
    }
  });

  it('refuses an API URL that is not https off the loopback interface, or that has a path', () => {
    const options = {
      secretKey: 'sk_test_x',
      timeoutMs: 1_000,
      successUrl: 'https://a.example',
      cancelUrl: 'https://b.example',
    };
    expect(() => createStripeProvider({ ...options, apiUrl: 'http://api.stripe.com' })).toThrow(/https/);
    expect(() => createStripeProvider({ ...options, apiUrl: 'https://api.stripe.com/v1' })).toThrow(
      /host and a port only/,
    );
    expect(() => createStripeProvider({ ...options, apiUrl: 'https://api.stripe.com' })).not.toThrow();
  });
});
