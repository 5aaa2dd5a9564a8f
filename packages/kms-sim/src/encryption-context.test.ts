import { describe, expect, it } from 'vitest';
import { encodeEncryptionContext, type EncryptionContext } from './encryption-context.js';

describe('encryption context encoding', () => {
  it('keeps apart contexts that plain concatenation would confuse', () => {
    const pairs: [EncryptionContext, EncryptionContext][] = [
      [{ ab: 'c' }, { a: 'bc' }],
      [
        { a: 'b', c: 'd' },
        { a: 'bc', '': 'd' },
      ],
      [{}, { '': '' }],
      [{ a: '' }, { '': 'a' }],
    ];
    for (const [left, right] of pairs) {
      expect(encodeEncryptionContext(left).equals(encodeEncryptionContext(right))).toBe(false);
    }
  });

  it('ignores the order the keys came in', () => {
    expect(encodeEncryptionContext({ tenant: 't', purpose: 'p' })).toEqual(
      encodeEncryptionContext({ purpose: 'p', tenant: 't' }),
    );
  });
});
