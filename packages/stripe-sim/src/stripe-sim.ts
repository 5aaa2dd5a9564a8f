import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import { EventLog, type StripeEvent } from './event-log.js';
import { decodeForm, type FormHash } from './form-encoding.js';
import { newId, ObjectStore, snapshot, type StripeObject } from './object-store.js';
import { Params } from './params.js';
import type { ApiContext, Endpoint } from './resources/api-context.js';
import {
  completeCheckoutSession,
  createCheckoutSession,
  lineItemsOf,
  retrieveCheckoutSession,
  type CheckoutSession,
  type CustomerDetails,
} from './resources/checkout-sessions.js';
import { createCustomer } from './resources/customers.js';
import {
  createInvoice,
  createInvoiceItem,
  failInvoicePayment,
  finalizeInvoice,
  payInvoice,
  retrieveInvoice,
} from './resources/invoices.js';
import {
  cancelSubscription,
  retrieveSubscription,
  setSubscriptionStatus,
  updateSubscription,
  type SubscriptionStatus,
} from './resources/subscriptions.js';
import { invalidParam, StripeApiError } from './stripe-error.js';
import {
  checkWebhookUrl,
  postWebhook,
  signatureOf,
  type SigningOptions,
  type WebhookDelivery,
} from './webhook-delivery.js';

export interface StripeSimOptions {
  /** 0 or unset: an ephemeral port, kept across stop() and start(). */
  port?: number;
  /** The account's secret key; a new `sk_test_…` by default. */
  secretKey?: string;
  /** The webhook endpoint's signing secret; a new `whsec_…` by default. */
  webhookSecret?: string;
  /** Where events are delivered (loopback only); unset keeps them for the test to deliver. */
  webhookUrl?: string;
}

/** A request the simulator answered, for tests that check what a client sent. */
export interface SimRequest {
  method: string;
  path: string;
  /** The decoded parameters (form body, or query string for GET and DELETE). */
  params: Record<string, unknown>;
  idempotencyKey: string | null;
  /** The request's headers, but its credentials. */
  headers: Record<string, string>;
  /** Whether the answer was an idempotent replay of an earlier one. */
  replayed: boolean;
  status: number;
}

/** A running simulator, and the handles a test acts with as the customer and as Stripe's backend. */
export interface StripeSim {
  /** http://127.0.0.1:<port>, the same across stop()/start(). */
  readonly url: string;
  /** The options that point the SDK here (and send no telemetry). */
  readonly clientOptions: { host: string; port: number; protocol: 'http'; telemetry: false };
  readonly secretKey: string;
  readonly webhookSecret: string;
  /** Where events go from now on; null keeps them undelivered. */
  setWebhookUrl(url: string | null): void;
  /**
   * The customer completes a Checkout session, entering its details (an email, a name, a
   * country: the session reports them, as Stripe's does): its subscription is made.
   */
  completeCheckout(sessionId: string, details?: CustomerDetails): Promise<SimEvents>;
  /** Stripe's backend moves a subscription to a status (trial over, dunning, given up…). */
  setSubscriptionStatus(subscriptionId: string, status: SubscriptionStatus): Promise<SimEvents>;
  /** Stripe's backend charges an open invoice, successfully… */
  payInvoice(invoiceId: string): Promise<SimEvents>;
  /** …or not. */
  failInvoicePayment(invoiceId: string): Promise<SimEvents>;
  /** Moves the account's clock (objects' and events' `created`) forward. */
  advanceClock(seconds: number): void;
  /** A copy of an object of the account, by id. */
  object(id: string): StripeObject | undefined;
  /** Every event so far, oldest first. */
  events(): StripeEvent[];
  /** The exact payload of an event and a `Stripe-Signature` for it, for a test to deliver itself. */
  signed(eventId: string, options?: SigningOptions): { payload: string; signature: string };
  /** (Re)delivers an event to the webhook endpoint, the same bytes each time. */
  deliver(eventId: string, options?: SigningOptions): Promise<WebhookDelivery>;
  /** Every delivery so far, in order. */
  deliveries(): WebhookDelivery[];
  /** Resolves once the events of API calls answered so far are delivered. */
  idle(): Promise<void>;
  requests(): SimRequest[];
  resetRequests(): void;
  /** Closes the listener and every connection (clients see connection refused). */
  stop(): Promise<void>;
  /** Listens again on the same port; the account is kept. */
  start(): Promise<void>;
}

/** The events a test action caused, each with its delivery (none without a webhook endpoint). */
export interface SimEvents {
  events: StripeEvent[];
  deliveries: WebhookDelivery[];
}

interface Route {
  method: 'GET' | 'POST' | 'DELETE';
  pattern: RegExp;
  endpoint: Endpoint;
}

const ID = '([A-Za-z0-9_]{1,255})';
const ROUTES: Route[] = [
  { method: 'POST', pattern: /^\/v1\/customers$/, endpoint: createCustomer },
  { method: 'POST', pattern: /^\/v1\/checkout\/sessions$/, endpoint: createCheckoutSession },
  { method: 'GET', pattern: new RegExp(`^/v1/checkout/sessions/${ID}$`), endpoint: retrieveCheckoutSession },
  { method: 'GET', pattern: new RegExp(`^/v1/subscriptions/${ID}$`), endpoint: retrieveSubscription },
  { method: 'POST', pattern: new RegExp(`^/v1/subscriptions/${ID}$`), endpoint: updateSubscription },
  { method: 'DELETE', pattern: new RegExp(`^/v1/subscriptions/${ID}$`), endpoint: cancelSubscription },
  { method: 'POST', pattern: /^\/v1\/invoiceitems$/, endpoint: createInvoiceItem },
  { method: 'POST', pattern: /^\/v1\/invoices$/, endpoint: createInvoice },
  { method: 'POST', pattern: new RegExp(`^/v1/invoices/${ID}/finalize$`), endpoint: finalizeInvoice },
  { method: 'GET', pattern: new RegExp(`^/v1/invoices/${ID}$`), endpoint: retrieveInvoice },
];

const FORM = 'application/x-www-form-urlencoded';
/** Far above any request of the endpoints simulated. */
const MAX_BODY_BYTES = 1024 * 1024;
const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

interface SavedAnswer {
  fingerprint: string;
  status: number;
  body: string;
}

/**
 * Starts a local server speaking the parts of Stripe's API that billing uses, for tests that
 * drive the real `stripe` SDK: form-encoded requests with bracketed keys, Bearer secret-key
 * authentication, idempotent replays, Stripe's error objects, and events delivered to a webhook
 * endpoint signed with its secret. It listens on 127.0.0.1 only and delivers only to loopback.
 */
export async function startStripeSim(options: StripeSimOptions = {}): Promise<StripeSim> {
  const secretKey = options.secretKey ?? `sk_test_${randomBytes(24).toString('hex')}`;
  const webhookSecret = options.webhookSecret ?? `whsec_${randomBytes(24).toString('hex')}`;
  let webhookUrl: string | null = null;
  if (options.webhookUrl) {
    checkWebhookUrl(options.webhookUrl);
    webhookUrl = options.webhookUrl;
  }
  const store = new ObjectStore();
  const events = new EventLog(store, Stripe.API_VERSION);
  const idempotent = new Map<string, SavedAnswer>();
  const deliveries: WebhookDelivery[] = [];
  let requests: SimRequest[] = [];
  // Deliveries go one at a time, in the order the events happened, as a test reads them best.
  let deliveryQueue: Promise<unknown> = Promise.resolve();
  let baseUrl = '';

  const server = createServer((req, res) => {
    void answer(req, res);
  });

  const contextOf = (cause: ApiContext['cause']): ApiContext => ({ store, events, cause, baseUrl });

  async function answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = newId('req');
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = req.method ?? 'GET';
    const key = headerOf(req, 'idempotency-key');
    const entry: SimRequest = {
      method,
      path: url.pathname,
      params: {},
      idempotencyKey: key ?? null,
      headers: headersOf(req),
      replayed: false,
      status: 0,
    };
    const headers: Record<string, string> = {
      'request-id': requestId,
      'stripe-version': headerOf(req, 'stripe-version') ?? Stripe.API_VERSION,
      ...(key ? { 'idempotency-key': key } : {}),
    };
    try {
      if (url.pathname.startsWith('/checkout/') || url.pathname.startsWith('/invoices/')) {
        req.resume();
        sendPage(res, url.pathname);
        return;
      }
      const body = await readBody(req);
      authenticate(headerOf(req, 'authorization'), secretKey);
      const route = ROUTES.find(
        (candidate) => candidate.method === method && candidate.pattern.test(url.pathname),
      );
      if (!route) {
        throw new StripeApiError(
          404,
          'invalid_request_error',
          `Unrecognized request URL (${method}: ${url.pathname}).`,
        );
      }
      const id = route.pattern.exec(url.pathname)![1] ?? '';
      let raw: string;
      if (method === 'POST') {
        const type = headerOf(req, 'content-type') ?? '';
        if (body.length > 0 && !type.startsWith(FORM)) {
          throw new StripeApiError(
            400,
            'invalid_request_error',
            `Invalid request: the body must be ${FORM}.`,
          );
        }
        raw = body.toString('utf8');
      } else {
        raw = url.search.slice(1);
      }
      const values = decodeForm(raw);
      entry.params = plain(values);
      if (method === 'POST' && key !== undefined) {
        if (key.length > MAX_IDEMPOTENCY_KEY_LENGTH) {
          throw new StripeApiError(
            400,
            'invalid_request_error',
            `Idempotency-Key must be at most ${MAX_IDEMPOTENCY_KEY_LENGTH} characters`,
          );
        }
        const fingerprint = `${method} ${url.pathname} ${JSON.stringify(entry.params)}`;
        const saved = idempotent.get(key);
        if (saved) {
          if (saved.fingerprint !== fingerprint) {
            throw new StripeApiError(
              400,
              'idempotency_error',
              `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
            );
          }
          entry.replayed = true;
          entry.status = saved.status;
          send(res, saved.status, saved.body, { ...headers, 'idempotent-replayed': 'true' });
          return;
        }
      }
      const params = new Params(values);
      const before = events.list().length;
      const context = contextOf({ requestId, idempotencyKey: key ?? null });
      const object = route.endpoint(context, params, id);
      const text = JSON.stringify(expand(context, object, params.strings('expand')));
      if (method === 'POST' && key !== undefined) {
        idempotent.set(key, {
          fingerprint: `${method} ${url.pathname} ${JSON.stringify(entry.params)}`,
          status: 200,
          body: text,
        });
      }
      entry.status = 200;
      send(res, 200, text, headers);
      // As Stripe, the events of a call are delivered after its answer.
      void enqueue(events.list().slice(before));
    } catch (error) {
      const refusal =
        error instanceof StripeApiError
          ? error
          : new StripeApiError(500, 'api_error', 'An unexpected error occurred in the simulator.');
      entry.status = refusal.status;
      send(res, refusal.status, JSON.stringify(refusal.toBody()), headers);
    } finally {
      if (entry.status !== 0) requests.push(entry);
    }
  }

  function enqueue(made: StripeEvent[]): Promise<WebhookDelivery[]> {
    const target = webhookUrl;
    if (!target || made.length === 0) return Promise.resolve([]);
    const delivered = deliveryQueue.then(async () => {
      const results: WebhookDelivery[] = [];
      for (const event of made) results.push(await deliverTo(target, event.id, {}));
      return results;
    });
    deliveryQueue = delivered.catch(() => undefined);
    return delivered;
  }

  async function deliverTo(
    target: string,
    eventId: string,
    signing: SigningOptions,
  ): Promise<WebhookDelivery> {
    const { payload, signature } = signedPayload(eventId, signing);
    const delivery = await postWebhook(target, eventId, events.get(eventId)!.type, payload, signature);
    deliveries.push(delivery);
    return delivery;
  }

  function signedPayload(
    eventId: string,
    signing: SigningOptions = {},
  ): { payload: string; signature: string } {
    const payload = events.payloadOf(eventId);
    if (payload === undefined) throw new RangeError(`There is no event ${eventId}`);
    return { payload, signature: signatureOf(payload, signing.secret ?? webhookSecret, signing.timestamp) };
  }

  /** Runs a test's action as Stripe's backend, then delivers what it caused before answering. */
  async function act(action: (context: ApiContext) => unknown): Promise<SimEvents> {
    const before = events.list().length;
    action(contextOf(null));
    const made = events.list().slice(before);
    return { events: made.map((event) => snapshot(event)), deliveries: await enqueue(made) };
  }

  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });

  await listen(options.port ?? 0);
  const port = (server.address() as AddressInfo).port;
  baseUrl = `http://127.0.0.1:${port}`;

  return {
    url: baseUrl,
    clientOptions: { host: '127.0.0.1', port, protocol: 'http', telemetry: false },
    secretKey,
    webhookSecret,
    setWebhookUrl(url) {
      if (url !== null) checkWebhookUrl(url);
      webhookUrl = url;
    },
    completeCheckout: (id, details) => act((context) => completeCheckoutSession(context, id, details)),
    setSubscriptionStatus: (id, status) => act((context) => setSubscriptionStatus(context, id, status)),
    payInvoice: (id) => act((context) => payInvoice(context, id)),
    failInvoicePayment: (id) => act((context) => failInvoicePayment(context, id)),
    advanceClock: (seconds) => store.advance(seconds),
    object: (id) => {
      for (const kind of [
        'customer',
        'checkout.session',
        'subscription',
        'invoiceitem',
        'invoice',
        'price',
        'product',
        'payment_method',
      ]) {
        const found = store.get(kind, id);
        if (found) return snapshot(found);
      }
      return undefined;
    },
    events: () => events.list().map((event) => snapshot(event)),
    signed: (eventId, signing) => signedPayload(eventId, signing),
    deliver: async (eventId, signing = {}) => {
      if (!webhookUrl) throw new Error('No webhook endpoint is set');
      const target = webhookUrl;
      const delivered = deliveryQueue.then(() => deliverTo(target, eventId, signing));
      deliveryQueue = delivered.catch(() => undefined);
      return delivered;
    },
    deliveries: () => [...deliveries],
    idle: async () => {
      await deliveryQueue;
    },
    requests: () => requests.map((request) => structuredClone(request)),
    resetRequests: () => {
      requests = [];
    },
    stop: async () => {
      if (!server.listening) return;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
    start: async () => {
      if (server.listening) return;
      await listen(port);
    },
  };
}

function authenticate(header: string | undefined, secretKey: string): void {
  if (!header) {
    throw new StripeApiError(
      401,
      'invalid_request_error',
      "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
    );
  }
  const match = /^Bearer (\S+)$/.exec(header);
  if (!match || match[1] !== secretKey) {
    const shown = match ? `${match[1]!.slice(0, 8)}****${match[1]!.slice(-4)}` : '';
    throw new StripeApiError(401, 'invalid_request_error', `Invalid API Key provided: ${shown}`);
  }
}

/**
 * `expand[]` as Stripe reads it: each named field (dotted for nested ones) that holds an id is
 * replaced by that object, in the answer only.
 */
function expand(context: ApiContext, object: StripeObject, paths: string[]): StripeObject {
  const answer = snapshot(object);
  paths.forEach((path, index) => {
    if (path === 'line_items' && object.object === 'checkout.session') {
      answer.line_items = lineItemsOf(context, object as CheckoutSession);
      return;
    }
    const segments = path.split('.');
    let holder: Record<string, unknown> = answer;
    for (const [position, segment] of segments.entries()) {
      const value = holder[segment];
      const last = position === segments.length - 1;
      if (last && typeof value === 'string') {
        const found = findAny(context, value);
        if (found) {
          holder[segment] = snapshot(found);
          return;
        }
      }
      if (!last && typeof value === 'object' && value !== null) {
        holder = value as Record<string, unknown>;
        continue;
      }
      if (last && value === null) return;
      break;
    }
    throw invalidParam(`expand[${index}]`, `This property cannot be expanded (${path}).`);
  });
  return answer;
}

function findAny(context: ApiContext, id: string): StripeObject | undefined {
  for (const kind of [
    'customer',
    'subscription',
    'invoice',
    'payment_method',
    'price',
    'product',
    'checkout.session',
  ]) {
    const found = context.store.get(kind, id);
    if (found) return found;
  }
  return undefined;
}

function headerOf(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === 'string' ? value : undefined;
}

function headersOf(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (name !== 'authorization' && typeof value === 'string') headers[name] = value;
  }
  return headers;
}

function plain(values: FormHash): Record<string, unknown> {
  return JSON.parse(JSON.stringify(values)) as Record<string, unknown>;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    req.on('data', (chunk: Buffer) => {
      length += chunk.length;
      if (length > MAX_BODY_BYTES) {
        req.destroy();
        reject(new StripeApiError(400, 'invalid_request_error', 'The request is too large.'));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, text: string, headers: Record<string, string>): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** The pages a Checkout session's or an invoice's URL names: a line saying what they stand for. */
function sendPage(res: ServerResponse, path: string): void {
  const text = `Simulated Stripe page ${path}: complete it with the simulator's test handles.\n`;
  res.writeHead(200, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}
