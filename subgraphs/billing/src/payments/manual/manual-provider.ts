import { BadUserInputError } from '@fleet/service-kit';
import type { PaymentProvider } from '../payment-provider.js';

/**
 * The embedded default: invoices are paid outside the platform (a bank transfer, a purchase
 * order) and a platform admin records each payment with `markInvoicePaid`.
 */
export const manualProvider: PaymentProvider = {
  name: 'manual',
  startCheckout() {
    return Promise.reject(
      new BadUserInputError(
        'Payments are collected manually here: change the plan with changeTenantPlan',
        'planId',
      ),
    );
  },
  collect() {
    return Promise.resolve(null);
  },
  cancel() {
    return Promise.resolve();
  },
};
