import type { EventCause, EventLog } from '../event-log.js';
import type { ObjectStore, StripeObject } from '../object-store.js';
import type { Params } from '../params.js';
import { invalidParam, noSuch } from '../stripe-error.js';

/** What an endpoint works with: the account's objects and events, and what caused the call. */
export interface ApiContext {
  readonly store: ObjectStore;
  readonly events: EventLog;
  /** The API request being answered; null when the account's backend acts by itself. */
  readonly cause: EventCause | null;
  /** The simulator's own base URL, for the pages it names (a Checkout session's `url`). */
  readonly baseUrl: string;
}

/** An endpoint: its parameters and, for `/v1/<kind>/:id`, the id of the URL. */
export type Endpoint = (context: ApiContext, params: Params, id: string) => StripeObject;

/** The object of a URL's id, or Stripe's 404 for it. */
export function objectOfUrl<T extends StripeObject>(
  context: ApiContext,
  kind: string,
  label: string,
  id: string,
): T {
  const found = context.store.get<T>(kind, id);
  if (!found) throw noSuch(label, id, 'id', 404);
  return found;
}

/** The object a parameter names, or Stripe's 400 naming the parameter. */
export function objectOfParam<T extends StripeObject>(
  context: ApiContext,
  kind: string,
  label: string,
  id: string,
  param: string,
): T {
  const found = context.store.get<T>(kind, id);
  if (!found) throw noSuch(label, id, param);
  return found;
}

/** Currencies are lower case ISO 4217 codes on Stripe's side. */
export function currencyParam(params: Params, key: string, required: boolean): string | undefined {
  const value = required ? params.string(key, { required: true }) : params.string(key);
  if (value === undefined) return undefined;
  if (!/^[a-zA-Z]{3}$/.test(value)) {
    throw invalidParam(params.nameOf(key), `Invalid currency: ${value}`);
  }
  return value.toLowerCase();
}
