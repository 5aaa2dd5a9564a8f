export { billingConfigSpec, type BillingConfig } from './config.js';
export { startBilling } from './billing-service.js';
export type { EffectOutcome, PaymentEffects, ProviderCause } from './payments/payment-effects.js';
