import { newId, type StripeObject } from '../object-store.js';
import type { ApiContext, Endpoint } from './api-context.js';

export interface Customer extends StripeObject {
  object: 'customer';
  created: number;
  email: string | null;
  name: string | null;
  phone: string | null;
  description: string | null;
  metadata: Record<string, string>;
  invoice_settings: { default_payment_method: string | null };
}

/** `POST /v1/customers`. Every parameter is optional, as with Stripe. */
export const createCustomer: Endpoint = (context, params) => {
  params.allow('description', 'email', 'expand', 'metadata', 'name', 'phone');
  return createCustomerFor(context, {
    description: params.string('description') ?? null,
    email: params.string('email', { maxLength: 512 }) ?? null,
    metadata: params.metadata('metadata'),
    name: params.string('name', { maxLength: 256 }) ?? null,
    phone: params.string('phone', { maxLength: 20 }) ?? null,
  });
};

/** A new customer: by the API, or by Checkout for a session that names none. */
export function createCustomerFor(
  context: ApiContext,
  fields: Partial<Pick<Customer, 'description' | 'email' | 'metadata' | 'name' | 'phone'>>,
): Customer {
  const customer: Customer = {
    id: newId('cus'),
    object: 'customer',
    address: null,
    balance: 0,
    created: context.store.now(),
    currency: null,
    default_source: null,
    delinquent: false,
    description: fields.description ?? null,
    email: fields.email ?? null,
    invoice_prefix: newId('x').slice(2, 10).toUpperCase(),
    invoice_settings: { default_payment_method: null },
    livemode: false,
    metadata: fields.metadata ?? {},
    name: fields.name ?? null,
    phone: fields.phone ?? null,
    preferred_locales: [],
    shipping: null,
    tax_exempt: 'none',
    test_clock: null,
  };
  return context.store.put(customer);
}
