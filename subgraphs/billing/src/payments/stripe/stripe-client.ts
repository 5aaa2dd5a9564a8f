import Stripe from 'stripe';

export interface StripeClientOptions {
  /** The account's secret (`sk_…`) or restricted (`rk_…`) key. */
  secretKey: string;
  /** Where the API is, e.g. https://api.stripe.com: https, except on the loopback interface. */
  apiUrl: string;
  /** Longest one call may take, retries apart. */
  timeoutMs: number;
  /** Retries of a call that failed on the network or with a 409 or 5xx (default 2). */
  maxNetworkRetries?: number;
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * The SDK, pointed at `apiUrl` and nowhere else: its host, port and protocol come from there,
 * and telemetry is off (no request metrics, no platform details, no telemetry id file).
 */
export function stripeClient(options: StripeClientOptions): Stripe {
  const url = apiUrlOf(options.apiUrl);
  return new Stripe(options.secretKey, {
    host: url.hostname,
    port: url.port || (url.protocol === 'https:' ? 443 : 80),
    protocol: url.protocol === 'https:' ? 'https' : 'http',
    telemetry: false,
    timeout: options.timeoutMs,
    maxNetworkRetries: options.maxNetworkRetries ?? 2,
  });
}

/** The API's URL, checked: https (or http on loopback), a host and port only. */
export function apiUrlOf(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error('The Stripe API URL must be an absolute URL');
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname))) {
    throw new Error('The Stripe API URL must be https, except on the loopback interface');
  }
  if (
    (url.pathname !== '/' && url.pathname !== '') ||
    url.search ||
    url.hash ||
    url.username ||
    url.password
  ) {
    throw new Error('The Stripe API URL names a host and a port only (the SDK adds /v1/)');
  }
  return url;
}
