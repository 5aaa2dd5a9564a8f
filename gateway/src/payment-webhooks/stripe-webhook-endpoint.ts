import type { IncomingMessage, ServerResponse } from 'node:http';
import { ANONYMOUS, HttpError, readBody, sendJson, signedPost, type Logger } from '@fleet/service-kit';
import type { Admission, RateLimiter } from '../rate-limits/index.js';

/** Stripe's events are a few KiB; far fewer than this however many lines an invoice has. */
export const MAX_STRIPE_DELIVERY_BYTES = 262_144;

/** Billing's answers Stripe may read: the outcome, or the refusal of a bad delivery. */
const RELAYED = new Set([200, 400]);

export interface StripeWebhookEndpointOptions {
  /** The billing subgraph's origin, and the key of the gateway/billing pair. */
  billing: { origin: string; key: Buffer };
  rateLimiter: RateLimiter;
  timeoutMs: number;
  /** Answers a request refused by the rate limits (the gateway's own refusal). */
  refuse: (res: ServerResponse, admission: Exclude<Admission, { ok: true }>) => void;
}

/**
 * `POST /webhooks/stripe`: where Stripe delivers its events. Stripe has no credentials of the
 * platform (its `Stripe-Signature` is its credential, which billing checks), so a delivery is
 * anonymous: it spends from its address's anonymous budget, and its body is bounded. The raw
 * body and the `Stripe-Signature` header go to billing unchanged, as
 * `{"signature": <the header>, "payload": <the body, base64>}` signed with the gateway's key
 * (see billing's stripe-webhook-route.ts), so that the gateway's signature covers both. Billing's
 * 200 or 400 goes back to Stripe as it is; anything else becomes a 502, which Stripe retries.
 */
export async function forwardStripeWebhook(
  req: IncomingMessage,
  res: ServerResponse,
  context: { clientAddress: string; requestId: string; logger: Logger },
  options: StripeWebhookEndpointOptions,
): Promise<void> {
  if (req.method !== 'POST') throw new HttpError(405, 'Only POST is accepted here');
  const admission = await options.rateLimiter.admitOperation({
    principal: ANONYMOUS,
    address: context.clientAddress,
    cost: 1,
    signsIn: false,
  });
  if (!admission.ok) {
    options.refuse(res, admission);
    return;
  }
  const body = await readBody(req, MAX_STRIPE_DELIVERY_BYTES);
  const header = req.headers['stripe-signature'];
  const signature = typeof header === 'string' ? header : undefined;
  let status: number;
  let answer: unknown;
  try {
    const response = await signedPost({
      caller: 'gateway',
      audience: 'billing',
      key: options.billing.key,
      baseUrl: options.billing.origin,
      path: '/webhooks/stripe',
      body: JSON.stringify({ signature, payload: body.toString('base64') }),
      requestId: context.requestId,
      clientAddress: context.clientAddress,
      timeoutMs: options.timeoutMs,
    });
    status = response.status;
    answer = await response.json().catch(() => undefined);
  } catch (error) {
    context.logger.warn({ err: error }, 'billing could not take a Stripe delivery');
    status = 502;
  }
  context.logger.info({ status }, 'stripe delivery');
  if (!RELAYED.has(status) || answer === undefined) {
    sendJson(res, 502, {
      errors: [{ message: 'The delivery could not be taken now', extensions: { code: 'BAD_GATEWAY' } }],
    });
    return;
  }
  sendJson(res, status, answer);
}
