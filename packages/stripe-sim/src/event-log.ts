import { newId, snapshot, type ObjectStore, type StripeObject } from './object-store.js';

/** An event as Stripe sends it to a webhook endpoint: a snapshot of the object it is about. */
export interface StripeEvent extends StripeObject {
  object: 'event';
  api_version: string;
  created: number;
  data: { object: StripeObject; previous_attributes?: Record<string, unknown> };
  livemode: false;
  pending_webhooks: number;
  request: { id: string | null; idempotency_key: string | null };
  type: string;
}

/** The API request that caused an event; none for what the account's backend did by itself. */
export interface EventCause {
  requestId: string;
  idempotencyKey: string | null;
}

/**
 * The account's events, in the order they happened. Each keeps the exact payload it is
 * delivered with (pretty-printed, as Stripe's are), so a redelivery sends the same bytes.
 */
export class EventLog {
  readonly #store: ObjectStore;
  readonly #apiVersion: string;
  readonly #events: StripeEvent[] = [];
  readonly #payloads = new Map<string, string>();

  constructor(store: ObjectStore, apiVersion: string) {
    this.#store = store;
    this.#apiVersion = apiVersion;
  }

  record(
    type: string,
    object: StripeObject,
    cause: EventCause | null,
    previous?: Record<string, unknown>,
  ): StripeEvent {
    const event: StripeEvent = {
      id: newId('evt'),
      object: 'event',
      api_version: this.#apiVersion,
      created: this.#store.now(),
      data: { object: snapshot(object), ...(previous ? { previous_attributes: snapshot(previous) } : {}) },
      livemode: false,
      pending_webhooks: 1,
      request: { id: cause?.requestId ?? null, idempotency_key: cause?.idempotencyKey ?? null },
      type,
    };
    this.#events.push(event);
    this.#payloads.set(event.id, JSON.stringify(event, null, 2));
    return event;
  }

  list(): readonly StripeEvent[] {
    return this.#events;
  }

  get(id: string): StripeEvent | undefined {
    return this.#events.find((event) => event.id === id);
  }

  payloadOf(id: string): string | undefined {
    return this.#payloads.get(id);
  }
}

/** The fields of `before` that `after` changed, with their former values: `previous_attributes`. */
export function changedFields(before: StripeObject, after: StripeObject): Record<string, unknown> {
  const previous: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(before)) {
    if (JSON.stringify(value) !== JSON.stringify(after[key])) previous[key] = value;
  }
  return previous;
}
