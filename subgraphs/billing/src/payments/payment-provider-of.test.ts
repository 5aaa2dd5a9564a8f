import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '@fleet/service-kit';
import { billingConfigSpec } from '../config.js';
import { manualProvider } from './manual/manual-provider.js';
import { paymentProviderOf } from './payment-provider-of.js';

const KEY = 'a'.repeat(43);

function config(env: Record<string, string>) {
  return loadConfig(billingConfigSpec, 'BILLING_', {
    BILLING_KEY_GATEWAY: KEY,
    BILLING_KEY_AUDIT: KEY,
    BILLING_KEY_DEVICES: KEY,
    ...env,
  });
}

const STRIPE = {
  BILLING_PAYMENT_PROVIDER: 'stripe',
  BILLING_STRIPE_SECRET_KEY: 'sk_test_51Secretsecretsecret',
  BILLING_STRIPE_WEBHOOK_SECRET: 'whsec_signingsecretsigning',
  BILLING_STRIPE_API_URL: 'https://api.stripe.com',
  BILLING_STRIPE_SUCCESS_URL: 'https://fleet.example/billing/subscribed',
  BILLING_STRIPE_CANCEL_URL: 'https://fleet.example/billing',
};

function problemsOf(env: Record<string, string>): string[] {
  try {
    paymentProviderOf(config(env));
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
  return [];
}

describe('paymentProviderOf', () => {
  it('collects manually by default', () => {
    expect(paymentProviderOf(config({}))).toBe(manualProvider);
    expect(config({}).STRIPE_WEBHOOK_TOLERANCE_S).toBe(300);
  });

  it('collects with Stripe when configured so', () => {
    expect(paymentProviderOf(config(STRIPE)).name).toBe('stripe');
  });

  it('names every variable the stripe provider misses', () => {
    expect(problemsOf({ BILLING_PAYMENT_PROVIDER: 'stripe' })).toEqual([
      'BILLING_STRIPE_SECRET_KEY: is required with the stripe provider',
      'BILLING_STRIPE_WEBHOOK_SECRET: is required with the stripe provider',
      'BILLING_STRIPE_API_URL: is required with the stripe provider',
      'BILLING_STRIPE_SUCCESS_URL: is required with the stripe provider',
      'BILLING_STRIPE_CANCEL_URL: is required with the stripe provider',
    ]);
  });

  it('refuses values it cannot use, without echoing a secret', () => {
    const problems = problemsOf({
      ...STRIPE,
      BILLING_STRIPE_SECRET_KEY: 'pk_test_publishablenotsecret',
      BILLING_STRIPE_WEBHOOK_SECRET: 'not-a-signing-secret',
      BILLING_STRIPE_API_URL: 'http://api.stripe.com',
    });
    expect(problems).toEqual([
      'BILLING_STRIPE_SECRET_KEY: must be a Stripe secret or restricted key (sk_… or rk_…)',
      'BILLING_STRIPE_WEBHOOK_SECRET: must be a webhook signing secret (whsec_…)',
      'BILLING_STRIPE_API_URL: The Stripe API URL must be https, except on the loopback interface',
    ]);
    expect(problems.join(' ')).not.toMatch(/publishablenotsecret|not-a-signing-secret/);
    expect(problemsOf({ ...STRIPE, BILLING_STRIPE_API_URL: 'http://127.0.0.1:12111' })).toEqual([]);
  });

  it('keeps the stripe secrets out of the configuration table', () => {
    expect(billingConfigSpec.STRIPE_SECRET_KEY.secret).toBe(true);
    expect(billingConfigSpec.STRIPE_WEBHOOK_SECRET.secret).toBe(true);
  });
});
