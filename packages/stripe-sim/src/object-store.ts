import { randomBytes } from 'node:crypto';

/** A Stripe object as the API answers it: JSON with an `id` and an `object` naming its kind. */
export interface StripeObject {
  id: string;
  object: string;
  [field: string]: unknown;
}

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** An id as Stripe makes them: the kind's prefix and 24 random base62 characters. */
export function newId(prefix: string): string {
  const bytes = randomBytes(24);
  let text = '';
  for (const byte of bytes) text += BASE62[byte % 62];
  return `${prefix}_${text}`;
}

/**
 * Every object of the simulated account, by id, and the account's clock: unix seconds, which a
 * test may move forward (`advance`) to order objects and events in time.
 */
export class ObjectStore {
  readonly #objects = new Map<string, StripeObject>();
  /** What the API keeps of an object without answering it in the object itself. */
  readonly #attachments = new Map<string, unknown>();
  #offsetS = 0;

  /** Now, in unix seconds on the simulated clock. */
  now(): number {
    return Math.floor(Date.now() / 1000) + this.#offsetS;
  }

  advance(seconds: number): void {
    if (!Number.isInteger(seconds) || seconds < 0)
      throw new RangeError('advance takes whole seconds, 0 or more');
    this.#offsetS += seconds;
  }

  put<T extends StripeObject>(object: T): T {
    this.#objects.set(object.id, object);
    return object;
  }

  /** The object of this id if it is of this kind (`customer`, `subscription`, …). */
  get<T extends StripeObject = StripeObject>(kind: string, id: string): T | undefined {
    const found = this.#objects.get(id);
    return found?.object === kind ? (found as T) : undefined;
  }

  attach(id: string, name: string, value: unknown): void {
    this.#attachments.set(`${id} ${name}`, value);
  }

  attachment<T>(id: string, name: string): T | undefined {
    return this.#attachments.get(`${id} ${name}`) as T | undefined;
  }

  all<T extends StripeObject = StripeObject>(kind: string): T[] {
    return [...this.#objects.values()].filter((object) => object.object === kind) as T[];
  }
}

/** A deep copy, as an answer or an event carries an object at one moment. */
export function snapshot<T>(object: T): T {
  return structuredClone(object);
}
