import { ServiceUnavailableError } from '@fleet/service-kit';
import type { PaymentEffects } from './payment-effects.js';

const refuse = (): Promise<never> =>
  Promise.reject(
    new ServiceUnavailableError("Billing's subscription code does not take providers' events yet"),
  );

/**
 * Until billing's subscription and invoice code takes providers' events, none is applied: the
 * delivery fails (500), nothing is recorded, and the provider delivers it again later.
 */
export const unwiredPaymentEffects: PaymentEffects = {
  attachProvider: refuse,
  changePlan: refuse,
  setStatus: refuse,
  markInvoicePaid: refuse,
};
