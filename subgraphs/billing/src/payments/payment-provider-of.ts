import { ConfigError } from '@fleet/service-kit';
import type { BillingConfig } from '../config.js';
import { manualProvider } from './manual/manual-provider.js';
import type { PaymentProvider } from './payment-provider.js';
import { apiUrlOf } from './stripe/stripe-client.js';
import { createStripeProvider } from './stripe/stripe-provider.js';

const SECRET_KEY = /^(sk|rk)_[A-Za-z0-9_]{8,}$/;
const WEBHOOK_SECRET = /^whsec_[A-Za-z0-9_+/=]{8,}$/;

/** What the stripe provider is configured with, checked. */
export interface StripeSettings {
  secretKey: string;
  webhookSecret: string;
  apiUrl: string;
  successUrl: string;
  cancelUrl: string;
  webhookToleranceS: number;
  timeoutMs: number;
}

/**
 * The provider billing's configuration names, or a ConfigError listing every variable the
 * stripe provider misses or cannot use (never echoing a secret).
 */
export function paymentProviderOf(config: BillingConfig): PaymentProvider {
  if (config.PAYMENT_PROVIDER === 'manual') return manualProvider;
  return createStripeProvider(stripeSettingsOf(config));
}

export function stripeSettingsOf(config: BillingConfig): StripeSettings {
  const problems: string[] = [];
  const required = (name: string, value: string | undefined): string => {
    if (!value) problems.push(`BILLING_${name}: is required with the stripe provider`);
    return value ?? '';
  };
  const secretKey = required('STRIPE_SECRET_KEY', config.STRIPE_SECRET_KEY);
  if (secretKey && !SECRET_KEY.test(secretKey)) {
    problems.push('BILLING_STRIPE_SECRET_KEY: must be a Stripe secret or restricted key (sk_… or rk_…)');
  }
  const webhookSecret = required('STRIPE_WEBHOOK_SECRET', config.STRIPE_WEBHOOK_SECRET);
  if (webhookSecret && !WEBHOOK_SECRET.test(webhookSecret)) {
    problems.push('BILLING_STRIPE_WEBHOOK_SECRET: must be a webhook signing secret (whsec_…)');
  }
  const apiUrl = required('STRIPE_API_URL', config.STRIPE_API_URL);
  if (apiUrl) {
    try {
      apiUrlOf(apiUrl);
    } catch (error) {
      problems.push(`BILLING_STRIPE_API_URL: ${(error as Error).message}`);
    }
  }
  const successUrl = required('STRIPE_SUCCESS_URL', config.STRIPE_SUCCESS_URL);
  const cancelUrl = required('STRIPE_CANCEL_URL', config.STRIPE_CANCEL_URL);
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    secretKey,
    webhookSecret,
    apiUrl,
    successUrl,
    cancelUrl,
    webhookToleranceS: config.STRIPE_WEBHOOK_TOLERANCE_S,
    timeoutMs: config.STRIPE_TIMEOUT_MS,
  };
}
