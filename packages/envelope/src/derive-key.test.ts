import { createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { deriveKey } from './index.js';

describe('derived keys', () => {
  it('are HKDF-SHA256 with an empty salt, 32 bytes', () => {
    const key = randomBytes(32);
    // RFC 5869 by hand: extract with a salt of zeros, then one expand block.
    const prk = createHmac('sha256', Buffer.alloc(32)).update(key).digest();
    const okm = createHmac('sha256', prk).update('email-bidx-v1').update(Buffer.of(1)).digest();
    expect(deriveKey(key, 'email-bidx-v1')).toEqual(okm);
  });

  it('differ by purpose and from the key itself', () => {
    const key = randomBytes(32);
    const a = deriveKey(key, 'a');
    expect(a).toHaveLength(32);
    expect(a.equals(deriveKey(key, 'b'))).toBe(false);
    expect(a.equals(key)).toBe(false);
    expect(a).toEqual(deriveKey(Buffer.from(key), 'a'));
  });

  it('need a key of 32 bytes or more and a purpose', () => {
    expect(() => deriveKey(randomBytes(16), 'a')).toThrow(RangeError);
    expect(() => deriveKey(randomBytes(32), '')).toThrow(RangeError);
  });
});
