import { describe, expect, it } from 'vitest';
import { paymentDataIn } from './pii-scan.js';

/** The scan for payment data finds what it looks for, so that a clean result means something. */
describe('the payment data scan', () => {
  it('finds card numbers, grouped or not, and email addresses', () => {
    expect(paymentDataIn('pm: 4242 4242 4242 4242, exp 12/30')).toEqual([
      'card-like number 4242424242424242',
    ]);
    expect(paymentDataIn('{"n":"5555-5555-5555-4444"}')).toEqual(['card-like number 5555555555554444']);
    expect(paymentDataIn('contact=ada.lovelace@example.co.uk;')).toEqual([
      'email ada.lovelace@example.co.uk',
    ]);
  });

  it('leaves ids, amounts, timestamps and digit runs that fail the Luhn check alone', () => {
    const row =
      '(cus_Q1w2E3r4T5y6U7,sub_9f8e7d6c,4900,EUR,2026-12-01 10:00:00+00,1764583200,4242424242424241,8d3f0c1e-2b7a-4c6d-9e8f-0a1b2c3d4e5f)';
    expect(paymentDataIn(row)).toEqual([]);
  });
});
