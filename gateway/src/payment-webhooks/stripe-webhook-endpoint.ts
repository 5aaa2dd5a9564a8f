import type { MutualTls } from '@fleet/service-kit';
import type { AnonymousForward } from '../forwarding/anonymous-forward.js';

/** Stripe's events are a few KiB; far fewer than this however many lines an invoice has. */
export const MAX_STRIPE_DELIVERY_BYTES = 262_144;

/**
 * `POST /webhooks/stripe`: where Stripe delivers its events. Its `Stripe-Signature` is its
 * credential, which billing checks. The raw body and that header go to billing unchanged, as
 * `{"signature": <the header>, "payload": <the body, base64>}`, so that the gateway's own
 * signature covers both (see billing's stripe-webhook-route.ts). Billing's 200 or 400 goes back
 * to Stripe as it is; anything else becomes a 502, which Stripe retries.
 */
export function stripeWebhookForward(
  billing: { origin: string; key: Buffer; tls: MutualTls | undefined },
  timeoutMs: number,
): AnonymousForward {
  return {
    name: 'stripe delivery',
    signsIn: false,
    maxBodyBytes: MAX_STRIPE_DELIVERY_BYTES,
    target: { audience: 'billing', ...billing, path: '/webhooks/stripe' },
    relayed: new Set([200, 400]),
    body: (req, raw) => {
      const header = req.headers['stripe-signature'];
      return JSON.stringify({
        signature: typeof header === 'string' ? header : undefined,
        payload: raw.toString('base64'),
      });
    },
    failure: 'The delivery could not be taken now',
    timeoutMs,
  };
}
