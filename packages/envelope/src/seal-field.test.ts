import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalAad, DecryptionError, openField, sealField } from './index.js';

const key = randomBytes(32);
const ref = ['tenant-1', 'user-1', 'users', 'email', 'row-1', 1] as const;
const aad = canonicalAad('fleet-field-v1', ref);
const plaintext = Buffer.from('kim@keys.example');

function flipped(sealed: Buffer, at: number): Buffer {
  const copy = Buffer.from(sealed);
  copy[at]! ^= 0x01;
  return copy;
}

describe('sealed fields', () => {
  it('open to what was sealed, empty values included', () => {
    expect(openField(key, sealField(key, plaintext, aad), aad)).toEqual(plaintext);
    expect(openField(key, sealField(key, Buffer.alloc(0), aad), aad)).toEqual(Buffer.alloc(0));
  });

  it('are laid out as version, IV, ciphertext and tag, with a fresh IV each time', () => {
    const sealed = sealField(key, plaintext, aad);
    expect(sealed[0]).toBe(1);
    expect(sealed).toHaveLength(1 + 12 + plaintext.length + 16);
    const again = sealField(key, plaintext, aad);
    expect(again.subarray(1, 13).equals(sealed.subarray(1, 13))).toBe(false);
  });

  it.each([
    ['the version byte', 0],
    ['the IV', 5],
    ['the ciphertext', 14],
    ['the tag', -1],
  ])('do not open once %s is changed', (_, at) => {
    const sealed = sealField(key, plaintext, aad);
    expect(() => openField(key, flipped(sealed, at < 0 ? sealed.length + at : at), aad)).toThrow(
      DecryptionError,
    );
  });

  it('do not open truncated, extended, or under another key', () => {
    const sealed = sealField(key, plaintext, aad);
    expect(() => openField(key, sealed.subarray(0, sealed.length - 1), aad)).toThrow(DecryptionError);
    expect(() => openField(key, sealed.subarray(0, 28), aad)).toThrow(DecryptionError);
    expect(() => openField(key, Buffer.concat([sealed, Buffer.of(0)]), aad)).toThrow(DecryptionError);
    expect(() => openField(randomBytes(32), sealed, aad)).toThrow(DecryptionError);
  });

  it.each(ref.map((_, index) => index))(
    'do not open when field %i of the authenticated data changes',
    (index) => {
      const sealed = sealField(key, plaintext, aad);
      const changed = ref.map((field, i) =>
        i !== index ? field : typeof field === 'number' ? field + 1 : `${field}x`,
      );
      expect(() => openField(key, sealed, canonicalAad('fleet-field-v1', changed))).toThrow(DecryptionError);
      expect(() => openField(key, sealed, canonicalAad('fleet-field-v2', ref))).toThrow(DecryptionError);
    },
  );

  it('fail without saying why', () => {
    const sealed = sealField(key, plaintext, aad);
    const failures = [flipped(sealed, 0), flipped(sealed, 5), sealed.subarray(0, 3)].map((bad) => {
      try {
        openField(key, bad, aad);
      } catch (error) {
        return (error as Error).message;
      }
      return 'opened';
    });
    expect(new Set(failures)).toEqual(new Set(['The sealed value could not be opened']));
  });

  it('take 32-byte keys only', () => {
    expect(() => sealField(randomBytes(16), plaintext, aad)).toThrow(RangeError);
    expect(() => openField(randomBytes(31), sealField(key, plaintext, aad), aad)).toThrow(RangeError);
  });
});
