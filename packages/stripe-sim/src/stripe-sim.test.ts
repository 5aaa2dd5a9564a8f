import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startStripeSim, type StripeEvent, type StripeSim } from './index.js';

let sim: StripeSim;
let stripe: Stripe;
let receiver: Server;
/** What the webhook endpoint received: the raw body, its signature header, and the SDK's verdict. */
let received: { body: string; signature: string; verified: Stripe.Event | Error }[] = [];
let endpointStatus = 200;

function client(options: Partial<Stripe.StripeConfig> = {}): Stripe {
  return new Stripe(sim.secretKey, { ...sim.clientOptions, maxNetworkRetries: 0, ...options });
}

function recurring(
  name: string,
  unitAmount = 0,
  currency = 'eur',
): Stripe.Checkout.SessionCreateParams.LineItem {
  return {
    quantity: 1,
    price_data: {
      currency,
      unit_amount: unitAmount,
      recurring: { interval: 'month' },
      product_data: { name },
    },
  };
}

async function subscribed(
  trialDays?: number,
): Promise<{ customer: Stripe.Customer; subscription: Stripe.Subscription }> {
  const customer = await stripe.customers.create({ metadata: { tenantId: 't-1' } });
  const session = await stripe.checkout.sessions.create({
    mode: 'subscription',
    customer: customer.id,
    success_url: 'https://fleet.example/billing/done',
    line_items: [recurring('Pro')],
    subscription_data: {
      metadata: { tenantId: 't-1', planId: 'pro' },
      ...(trialDays ? { trial_period_days: trialDays } : {}),
    },
  });
  await sim.completeCheckout(session.id);
  const completed = await stripe.checkout.sessions.retrieve(session.id);
  return { customer, subscription: await stripe.subscriptions.retrieve(completed.subscription as string) };
}

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const signature = String(req.headers['stripe-signature']);
      let verified: Stripe.Event | Error;
      try {
        verified = Stripe.webhooks.constructEvent(body, signature, sim.webhookSecret, 300);
      } catch (error) {
        verified = error as Error;
      }
      received.push({ body, signature, verified });
      res.writeHead(endpointStatus, { 'content-type': 'application/json' }).end('{"received":true}');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  sim = await startStripeSim({
    webhookUrl: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`,
  });
  stripe = client();
});

beforeEach(async () => {
  await sim.idle();
  received = [];
  endpointStatus = 200;
});

afterAll(async () => {
  await sim?.stop();
  await new Promise((resolve) => receiver?.close(resolve));
});

describe('the wire', () => {
  it('listens on 127.0.0.1 and answers the SDK, which sends it everything and no telemetry', async () => {
    expect(sim.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    sim.resetRequests();
    const first = await stripe.customers.create();
    await stripe.customers.create();
    expect(first.id).toMatch(/^cus_[A-Za-z0-9]{24}$/);
    const requests = sim.requests();
    expect(requests.map((request) => `${request.method} ${request.path}`)).toEqual([
      'POST /v1/customers',
      'POST /v1/customers',
    ]);
    for (const request of requests) {
      expect(request.headers['x-stripe-client-telemetry']).toBeUndefined();
      expect(request.headers['stripe-version']).toBe(Stripe.API_VERSION);
      expect(request.headers['content-type']).toBe('application/x-www-form-urlencoded');
      expect(request.headers.authorization).toBeUndefined();
    }
    // With telemetry on, the SDK reports the previous request's timing in a header.
    const chatty = client({ telemetry: true });
    await chatty.customers.create();
    await chatty.customers.create();
    expect(sim.requests().at(-1)!.headers['x-stripe-client-telemetry']).toContain('last_request_metrics');
  });

  it('wants the secret key as a Bearer token, and never shows it whole', async () => {
    const wrong = new Stripe('sk_test_not-the-right-key-1234', {
      ...sim.clientOptions,
      maxNetworkRetries: 0,
    });
    const refusal = await wrong.customers.create().catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(Stripe.errors.StripeAuthenticationError);
    expect(refusal).toMatchObject({ statusCode: 401, message: 'Invalid API Key provided: sk_test_****1234' });
    const anonymous = await fetch(`${sim.url}/v1/customers`, { method: 'POST' });
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ error: { type: 'invalid_request_error' } });
  });

  it('answers an unknown URL with a 404 naming it', async () => {
    const answer = await fetch(`${sim.url}/v1/charges`, {
      headers: { authorization: `Bearer ${sim.secretKey}` },
    });
    expect(answer.status).toBe(404);
    expect(await answer.json()).toEqual({
      error: { type: 'invalid_request_error', message: 'Unrecognized request URL (GET: /v1/charges).' },
    });
  });

  it('replays an idempotent request, and refuses its key for other parameters', async () => {
    const key = `customer-${Date.now()}`;
    const first = await stripe.customers.create({ metadata: { tenantId: 'a' } }, { idempotencyKey: key });
    const again = await stripe.customers.create({ metadata: { tenantId: 'a' } }, { idempotencyKey: key });
    expect(again.id).toBe(first.id);
    expect(again.lastResponse.headers['idempotent-replayed']).toBe('true');
    expect(sim.requests().at(-1)).toMatchObject({ idempotencyKey: key, replayed: true });
    const other = await stripe.customers
      .create({ metadata: { tenantId: 'b' } }, { idempotencyKey: key })
      .catch((error: unknown) => error);
    expect(other).toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
    expect(other).toMatchObject({ statusCode: 400, type: 'StripeIdempotencyError' });
  });

  it('gives objects their prefixes, `object` fields and unix timestamps', async () => {
    const before = Math.floor(Date.now() / 1000);
    const customer = await stripe.customers.create({ metadata: { tenantId: 'x' } });
    expect(customer).toMatchObject({
      object: 'customer',
      email: null,
      name: null,
      metadata: { tenantId: 'x' },
    });
    expect(customer.created).toBeGreaterThanOrEqual(before);
    expect(customer.created).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));
    sim.advanceClock(3600);
    const later = await stripe.customers.create();
    expect(later.created).toBeGreaterThanOrEqual(before + 3600);
  });
});

describe('checkout sessions', () => {
  it('refuses what Stripe refuses, naming the parameter', async () => {
    const cases: [Stripe.Checkout.SessionCreateParams, string, string][] = [
      [{ mode: 'subscription', line_items: [recurring('Pro')] }, 'success_url', 'parameter_missing'],
      [{ mode: 'monthly', success_url: 'https://a.example' }, 'mode', 'parameter_invalid'],
      [
        { mode: 'subscription', success_url: 'not a url', line_items: [recurring('Pro')] },
        'success_url',
        'url_invalid',
      ],
      [
        {
          mode: 'subscription',
          success_url: 'https://a.example',
          line_items: [
            {
              quantity: 1,
              price_data: { currency: 'eur', unit_amount: 5, product_data: { name: 'One-off' } },
            },
          ],
        },
        'line_items',
        'parameter_invalid',
      ],
      [
        {
          mode: 'subscription',
          success_url: 'https://a.example',
          line_items: [
            {
              quantity: 1,
              price_data: { currency: 'eur', unit_amount: 0, recurring: { interval: 'month' } },
            },
          ],
        },
        'line_items[0][price_data][product_data]',
        'parameter_missing',
      ],
      [
        {
          mode: 'subscription',
          success_url: 'https://a.example',
          line_items: [recurring('Pro')],
          subscription_data: { trial_period_days: 0 },
        },
        'subscription_data[trial_period_days]',
        'parameter_invalid',
      ],
      [
        {
          mode: 'subscription',
          success_url: 'https://a.example',
          customer: 'cus_missing',
          line_items: [recurring('Pro')],
        },
        'customer',
        'resource_missing',
      ],
      [
        {
          mode: 'subscription',
          success_url: 'https://a.example',
          colour: 'red',
        } as Stripe.Checkout.SessionCreateParams,
        'colour',
        'parameter_unknown',
      ],
    ];
    for (const [params, param, code] of cases) {
      const refusal = await stripe.checkout.sessions.create(params).catch((error: unknown) => error);
      expect(refusal, param).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
      expect(refusal, param).toMatchObject({ statusCode: 400, param, code });
    }
    const missing = await stripe.checkout.sessions
      .create({ mode: 'subscription', line_items: [recurring('Pro')] })
      .catch((error: unknown) => error);
    expect((missing as Error).message).toBe('Missing required param: success_url.');
  });

  it('makes a session, and on completion a trialing subscription with its events', async () => {
    const customer = await stripe.customers.create({ metadata: { tenantId: 't-9' } });
    const session = await stripe.checkout.sessions.create({
      mode: 'subscription',
      customer: customer.id,
      client_reference_id: 't-9',
      success_url: 'https://fleet.example/done',
      cancel_url: 'https://fleet.example/cancel',
      line_items: [recurring('Enterprise', 0, 'EUR')],
      metadata: { tenantId: 't-9', planId: 'enterprise' },
      subscription_data: { metadata: { tenantId: 't-9', planId: 'enterprise' }, trial_period_days: 30 },
    });
    expect(session).toMatchObject({
      object: 'checkout.session',
      status: 'open',
      mode: 'subscription',
      customer: customer.id,
      client_reference_id: 't-9',
      subscription: null,
      currency: 'eur',
      amount_total: 0,
      url: `${sim.url}/checkout/${session.id}`,
    });
    expect(session.id).toMatch(/^cs_test_/);
    expect(session.expires_at - session.created).toBe(86_400);
    const expanded = await stripe.checkout.sessions.retrieve(session.id, { expand: ['line_items'] });
    expect(expanded.line_items!.data).toMatchObject([
      {
        object: 'item',
        quantity: 1,
        description: 'Enterprise',
        price: { object: 'price', unit_amount: 0, currency: 'eur', recurring: { interval: 'month' } },
      },
    ]);

    const { events, deliveries } = await sim.completeCheckout(session.id);
    expect(events.map((event) => event.type)).toEqual([
      'customer.subscription.created',
      'checkout.session.completed',
    ]);
    expect(deliveries.map((delivery) => delivery.status)).toEqual([200, 200]);
    const completed = await stripe.checkout.sessions.retrieve(session.id, { expand: ['subscription'] });
    expect(completed).toMatchObject({
      status: 'complete',
      payment_status: 'no_payment_required',
      customer_details: { email: 'owner@customer.example', name: 'Simulated Owner' },
    });
    const subscription = completed.subscription as Stripe.Subscription;
    expect(subscription).toMatchObject({
      object: 'subscription',
      status: 'trialing',
      customer: customer.id,
      metadata: { tenantId: 't-9', planId: 'enterprise' },
      currency: 'eur',
    });
    expect(subscription.id).toMatch(/^sub_/);
    expect(subscription.trial_end! - subscription.trial_start!).toBe(30 * 86_400);
    expect(subscription.default_payment_method).toMatch(/^pm_/);
    await expect(sim.completeCheckout(session.id)).rejects.toThrow(/complete, not open/);
  });

  it('reports the details the customer enters, a phone number too, on the session and a new customer', async () => {
    const session = await stripe.checkout.sessions.create({
      mode: 'subscription',
      success_url: 'https://fleet.example/billing/done',
      line_items: [recurring('Pro')],
    });
    const details = {
      email: 'ada@customer.example',
      name: 'Ada Payer',
      country: 'FR',
      phone: '+33 1 23 45 67 89',
    };
    await sim.completeCheckout(session.id, details);
    const completed = await stripe.checkout.sessions.retrieve(session.id);
    expect(completed.customer_details).toMatchObject({
      email: details.email,
      name: details.name,
      phone: details.phone,
      address: { country: 'FR' },
    });
    expect(sim.object(completed.customer as string)).toMatchObject({
      email: details.email,
      name: details.name,
      phone: details.phone,
    });
  });

  it('answers 404 resource_missing for a session it does not have', async () => {
    const refusal = await stripe.checkout.sessions
      .retrieve('cs_test_nothing')
      .catch((error: unknown) => error);
    expect(refusal).toMatchObject({ statusCode: 404, code: 'resource_missing', param: 'id' });
  });
});

describe('webhook deliveries', () => {
  it('signs every delivery so that the SDK verifies it, with the exact payload of the event', async () => {
    const { subscription } = await subscribed(14);
    const events = sim.events().slice(-2);
    expect(received).toHaveLength(2);
    for (const [index, delivery] of received.entries()) {
      expect(delivery.verified).not.toBeInstanceOf(Error);
      const event = delivery.verified as Stripe.Event;
      expect(event.id).toBe(events[index]!.id);
      expect(event.id).toMatch(/^evt_/);
      expect(event).toMatchObject({ object: 'event', api_version: Stripe.API_VERSION, livemode: false });
      expect(delivery.body).toBe(sim.signed(event.id).payload);
      expect(delivery.signature).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    }
    const created = received[0]!.verified as Stripe.CustomerSubscriptionCreatedEvent;
    expect(created.type).toBe('customer.subscription.created');
    expect(created.data.object.id).toBe(subscription.id);
  });

  it('redelivers the same bytes, and signs for a test that delivers itself', async () => {
    const event = sim.events().at(-1)!;
    const delivery = await sim.deliver(event.id);
    expect(delivery).toMatchObject({ eventId: event.id, status: 200 });
    expect(received.at(-1)!.body).toBe(sim.signed(event.id).payload);
    expect(received.at(-1)!.verified).not.toBeInstanceOf(Error);

    const forged = sim.signed(event.id, { secret: 'whsec_someone-else' });
    expect(() => Stripe.webhooks.constructEvent(forged.payload, forged.signature, sim.webhookSecret)).toThrow(
      Stripe.errors.StripeSignatureVerificationError,
    );
    const stale = sim.signed(event.id, { timestamp: Math.floor(Date.now() / 1000) - 301 });
    expect(() =>
      Stripe.webhooks.constructEvent(stale.payload, stale.signature, sim.webhookSecret, 300),
    ).toThrow(/Timestamp outside the tolerance zone/);
  });

  it('records the endpoint refusing a delivery', async () => {
    endpointStatus = 400;
    const event = sim.events().at(-1)!;
    expect(await sim.deliver(event.id)).toMatchObject({ status: 400 });
    expect(sim.deliveries().at(-1)).toMatchObject({ eventId: event.id, status: 400 });
  });

  it('delivers nowhere but loopback', async () => {
    expect(() => sim.setWebhookUrl('https://hooks.example.com/stripe')).toThrow(/loopback/);
    await expect(startStripeSim({ webhookUrl: 'http://10.0.0.1/hook' })).rejects.toThrow(/loopback/);
  });
});

describe('subscriptions', () => {
  it('changes status as Stripe’s backend does, with previous attributes', async () => {
    const { subscription } = await subscribed(14);
    const { events } = await sim.setSubscriptionStatus(subscription.id, 'active');
    const updated = events[0] as StripeEvent;
    expect(updated.type).toBe('customer.subscription.updated');
    expect(updated.data.object).toMatchObject({ id: subscription.id, status: 'active' });
    expect(updated.data.previous_attributes).toMatchObject({ status: 'trialing' });
    await sim.setSubscriptionStatus(subscription.id, 'past_due');
    expect((await stripe.subscriptions.retrieve(subscription.id)).status).toBe('past_due');
  });

  it('updates metadata, and cancels with customer.subscription.deleted', async () => {
    const { subscription } = await subscribed();
    const updated = await stripe.subscriptions.update(subscription.id, { metadata: { note: 'x' } });
    expect(updated.metadata).toEqual({ tenantId: 't-1', planId: 'pro', note: 'x' });
    const canceled = await stripe.subscriptions.cancel(subscription.id);
    expect(canceled).toMatchObject({
      status: 'canceled',
      cancellation_details: { reason: 'cancellation_requested' },
    });
    expect(canceled.canceled_at).toBeGreaterThan(0);
    await sim.idle();
    expect(received.map((delivery) => (delivery.verified as Stripe.Event).type).slice(-2)).toEqual([
      'customer.subscription.updated',
      'customer.subscription.deleted',
    ]);
    const again = await stripe.subscriptions.cancel(subscription.id).catch((error: unknown) => error);
    expect(again).toMatchObject({ statusCode: 400, type: 'StripeInvalidRequestError' });
    const missing = await stripe.subscriptions.retrieve('sub_missing').catch((error: unknown) => error);
    expect(missing).toMatchObject({ statusCode: 404, code: 'resource_missing' });
  });
});

describe('invoices', () => {
  it('gathers a subscription’s pending items into an invoice, finalizes it, and collects it', async () => {
    const { customer, subscription } = await subscribed();
    const other = await subscribed();
    await stripe.invoiceItems.create({
      customer: other.customer.id,
      amount: 999,
      currency: 'eur',
      subscription: other.subscription.id,
    });
    const first = await stripe.invoiceItems.create({
      customer: customer.id,
      subscription: subscription.id,
      amount: 4900,
      currency: 'EUR',
      description: 'Pro, 1 to 31 May',
      metadata: { invoiceId: 'inv-1' },
    });
    expect(first).toMatchObject({
      object: 'invoiceitem',
      amount: 4900,
      currency: 'eur',
      invoice: null,
      metadata: { invoiceId: 'inv-1' },
    });
    await stripe.invoiceItems.create({
      customer: customer.id,
      subscription: subscription.id,
      amount: 155,
      currency: 'eur',
      description: 'Device-days',
    });
    const invoice = await stripe.invoices.create({
      customer: customer.id,
      subscription: subscription.id,
      collection_method: 'charge_automatically',
      pending_invoice_items_behavior: 'include',
      metadata: { invoiceId: 'inv-1', tenantId: 't-1' },
    });
    expect(invoice).toMatchObject({
      object: 'invoice',
      status: 'draft',
      currency: 'eur',
      total: 5055,
      amount_due: 5055,
      metadata: { invoiceId: 'inv-1', tenantId: 't-1' },
      parent: { type: 'subscription_details', subscription_details: { subscription: subscription.id } },
    });
    expect(invoice.id).toMatch(/^in_/);
    expect(invoice.lines.data.map((line) => line.amount)).toEqual([4900, 155]);
    expect(
      (await stripe.invoiceItems.create({ customer: customer.id, amount: 1, currency: 'eur' })).invoice,
    ).toBeNull();

    const finalized = await stripe.invoices.finalizeInvoice(invoice.id);
    expect(finalized).toMatchObject({
      status: 'open',
      number: expect.stringMatching(/^SIM-\d{6}$/) as string,
    });
    const refinalized = await stripe.invoices.finalizeInvoice(invoice.id).catch((error: unknown) => error);
    expect(refinalized).toMatchObject({ statusCode: 400, code: 'invoice_not_editable' });

    const failed = await sim.failInvoicePayment(invoice.id);
    expect(failed.events.map((event) => event.type)).toEqual(['invoice.payment_failed']);
    const paid = await sim.payInvoice(invoice.id);
    expect(paid.events.map((event) => event.type)).toEqual(['invoice.paid']);
    expect(await stripe.invoices.retrieve(invoice.id)).toMatchObject({
      status: 'paid',
      amount_paid: 5055,
      amount_remaining: 0,
      attempt_count: 2,
    });
    await expect(sim.payInvoice(invoice.id)).rejects.toThrow(/paid, not open/);
  });

  it('refuses invoice items and invoices without what Stripe requires', async () => {
    const { customer, subscription } = await subscribed();
    const cases: [() => Promise<unknown>, string, string][] = [
      [() => stripe.invoiceItems.create({ amount: 1, currency: 'eur' }), 'customer', 'parameter_missing'],
      [
        () => stripe.invoiceItems.create({ customer: customer.id, amount: 1 }),
        'currency',
        'parameter_missing',
      ],
      [
        () =>
          stripe.invoiceItems.create({
            customer: customer.id,
            amount: 1,
            currency: 'eur',
            subscription: 'sub_x',
          }),
        'subscription',
        'resource_missing',
      ],
      [
        () => stripe.invoices.create({ collection_method: 'charge_automatically' }),
        'customer',
        'parameter_missing',
      ],
      [
        () => stripe.invoices.create({ customer: customer.id, collection_method: 'send_invoice' }),
        'days_until_due',
        'parameter_missing',
      ],
      [
        () =>
          stripe.invoices.create({
            customer: customer.id,
            pending_invoice_items_behavior: 'all' as 'include',
          }),
        'pending_invoice_items_behavior',
        'parameter_invalid',
      ],
    ];
    for (const [call, param, code] of cases) {
      const refusal = await call().catch((error: unknown) => error);
      expect(refusal, param).toMatchObject({
        statusCode: 400,
        type: 'StripeInvalidRequestError',
        param,
        code,
      });
    }
    await stripe.invoiceItems.create({
      customer: customer.id,
      subscription: subscription.id,
      amount: 10,
      currency: 'eur',
    });
    const excluded = await stripe.invoices.create({ customer: customer.id, subscription: subscription.id });
    expect(excluded.lines.data).toEqual([]);
  });

  it('pays an invoice with nothing due as it is finalized', async () => {
    const { customer } = await subscribed();
    const invoice = await stripe.invoices.create({ customer: customer.id, currency: 'eur' });
    const finalized = await stripe.invoices.finalizeInvoice(invoice.id);
    expect(finalized.status).toBe('paid');
    await sim.idle();
    expect(received.map((delivery) => (delivery.verified as Stripe.Event).type).slice(-2)).toEqual([
      'invoice.finalized',
      'invoice.paid',
    ]);
  });
});

describe('stop and start', () => {
  it('refuses connections while stopped and keeps the account', async () => {
    const customer = await stripe.customers.create();
    await sim.stop();
    await expect(stripe.customers.create()).rejects.toBeInstanceOf(Stripe.errors.StripeConnectionError);
    await sim.start();
    expect(sim.object(customer.id)).toMatchObject({ id: customer.id, object: 'customer' });
  });
});
