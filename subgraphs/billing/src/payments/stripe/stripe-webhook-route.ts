import { HttpError, sendJson, type SignedRoute } from '@fleet/service-kit';
import type { StripeWebhooks } from './stripe-webhooks.js';

/** Where the gateway forwards Stripe's deliveries, and billing receives them. */
export const STRIPE_WEBHOOK_PATH = '/webhooks/stripe';

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const MAX_SIGNATURE_LENGTH = 4_096;

/**
 * Billing's side of the webhook: `POST /webhooks/stripe`, from the gateway only, signed with the
 * key of their pair. The gateway sends what Stripe sent, unchanged, as
 * `{"signature": <the Stripe-Signature header>, "payload": <the raw body, base64>}`, so that its
 * own signature covers both and the bytes Stripe signed arrive as they were. Billing answers as
 * the gateway answers Stripe: 400 for a delivery it refuses, 200 with the outcome otherwise.
 */
export function stripeWebhookRoute(
  webhooks: StripeWebhooks,
  gatewayKey: Buffer,
): Record<string, SignedRoute> {
  return {
    [STRIPE_WEBHOOK_PATH]: {
      keys: new Map([['gateway', gatewayKey]]),
      async handle(request, body, res) {
        const forwarded = forwardedOf(body);
        const answer = await webhooks.receive(forwarded.payload, forwarded.signature);
        if (answer.status === 400) {
          request.logger.info({ outcome: answer.outcome }, 'refused a Stripe delivery');
          throw new HttpError(400, answer.message ?? 'Refused', 'BAD_REQUEST');
        }
        sendJson(res, 200, { received: true, outcome: answer.outcome });
      },
    },
  };
}

function forwardedOf(body: Buffer): { payload: Buffer; signature: string | undefined } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw new HttpError(400, 'Malformed JSON in request body', 'BAD_USER_INPUT');
  }
  const { payload, signature } = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<
    string,
    unknown
  >;
  if (typeof payload !== 'string' || !BASE64.test(payload)) {
    throw new HttpError(400, 'payload must be the delivery body in base64', 'BAD_USER_INPUT');
  }
  if (signature !== undefined && (typeof signature !== 'string' || signature.length > MAX_SIGNATURE_LENGTH)) {
    throw new HttpError(400, 'signature must be the Stripe-Signature header', 'BAD_USER_INPUT');
  }
  return { payload: Buffer.from(payload, 'base64'), signature };
}
