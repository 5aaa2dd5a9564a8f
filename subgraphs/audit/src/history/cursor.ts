import { BadUserInputError } from '@fleet/service-kit';

/**
 * Opaque page cursors: the base64url of the keyset position of an edge, as decimal integers
 * (an event's position; or its sequence and position in an entity's history). Clients must not
 * build them, and a cursor that is not exactly what encodeCursor makes is refused, so a
 * hand-made one cannot ask for a scan the keyset does not bound.
 */
export function encodeCursor(keys: readonly number[]): string {
  return Buffer.from(keys.join(':')).toString('base64url');
}

const KEY = /^(0|[1-9]\d{0,15})$/;

/** The `arity` keys of a cursor; BAD_USER_INPUT on `argument` when it is not one of ours. */
export function decodeCursor(cursor: string, arity: number, argument: string): number[] {
  const refuse = () => new BadUserInputError(`${argument} is not a cursor of this list`, argument);
  if (cursor.length > 100 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw refuse();
  const parts = Buffer.from(cursor, 'base64url').toString('latin1').split(':');
  if (parts.length !== arity || !parts.every((part) => KEY.test(part))) throw refuse();
  const keys = parts.map(Number);
  if (!keys.every(Number.isSafeInteger) || encodeCursor(keys) !== cursor) throw refuse();
  return keys;
}
