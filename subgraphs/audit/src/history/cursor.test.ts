import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor } from './cursor.js';

const refusal = (cursor: string, arity: number) => {
  try {
    decodeCursor(cursor, arity, 'after');
  } catch (error) {
    return (error as { extensions: Record<string, unknown> }).extensions;
  }
  throw new Error(`${cursor} was accepted`);
};

describe('page cursors', () => {
  it('give back the keys they were made from', () => {
    for (const keys of [[1], [0], [Number.MAX_SAFE_INTEGER], [3, 1_000_001]]) {
      expect(decodeCursor(encodeCursor(keys), keys.length, 'after')).toEqual(keys);
    }
  });

  it('refuse what encodeCursor did not make, as BAD_USER_INPUT naming the argument', () => {
    const b64 = (text: string) => Buffer.from(text).toString('base64url');
    for (const [cursor, arity] of [
      ['', 1],
      ['not a cursor', 1],
      [b64('12'), 2],
      [b64('1:2'), 1],
      [b64('-1'), 1],
      [b64('007'), 1],
      [b64('1.5'), 1],
      [b64('99999999999999999'), 1],
      [b64('12') + '=', 1],
      [`${b64('12')}A`, 1],
      ['x'.repeat(200), 1],
    ] as const) {
      expect(refusal(cursor, arity), cursor).toEqual({ code: 'BAD_USER_INPUT', field: 'after' });
    }
  });
});
