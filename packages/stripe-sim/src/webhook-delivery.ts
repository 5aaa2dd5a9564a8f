import Stripe from 'stripe';

/** One attempt to deliver an event to the webhook endpoint. */
export interface WebhookDelivery {
  eventId: string;
  type: string;
  /** The endpoint's HTTP status; null when it could not be reached. */
  status: number | null;
  /** The endpoint's answer (its first 4 KiB). */
  body: string;
}

/** How to sign a delivery; the defaults are Stripe's (now, the endpoint's secret). */
export interface SigningOptions {
  /** Unix seconds the signature claims (Stripe: the moment of the delivery). */
  timestamp?: number;
  /** Another secret than the endpoint's, to show what a forged delivery looks like. */
  secret?: string;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);
const MAX_ANSWER_CHARS = 4_096;
const DELIVERY_TIMEOUT_MS = 10_000;

/**
 * The `Stripe-Signature` header of a payload, made by the SDK's own helper: `t=<unix seconds>,
 * v1=<HMAC-SHA256 of "t.payload" under the secret>`, as Stripe signs its deliveries.
 */
export function signatureOf(payload: string, secret: string, timestamp?: number): string {
  return Stripe.webhooks.generateTestHeaderString({
    payload,
    secret,
    ...(timestamp === undefined ? {} : { timestamp }),
  });
}

/** Only endpoints on this machine: the simulator never sends anything elsewhere. */
export function checkWebhookUrl(url: string): void {
  const parsed = new URL(url);
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new RangeError('The webhook endpoint must be an http or https URL');
  }
  if (!LOOPBACK.has(parsed.hostname) && !parsed.hostname.startsWith('127.')) {
    throw new RangeError('The webhook endpoint must be on the loopback interface');
  }
}

/** POSTs a payload as Stripe does: JSON, signed, from Stripe's user agent. */
export async function postWebhook(
  url: string,
  eventId: string,
  type: string,
  payload: string,
  signature: string,
): Promise<WebhookDelivery> {
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json; charset=utf-8',
        'stripe-signature': signature,
        'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
      },
      body: payload,
      signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
    });
    const body = (await response.text()).slice(0, MAX_ANSWER_CHARS);
    return { eventId, type, status: response.status, body };
  } catch (error) {
    return { eventId, type, status: null, body: (error as Error).message };
  }
}
