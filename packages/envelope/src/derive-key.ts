import { hkdfSync } from 'node:crypto';

/**
 * HKDF-SHA256 subkey of 32 bytes for a named purpose (e.g. 'email-bidx-v1').
 *
 * Each purpose gets its own key, so a value computed for one purpose is useless for another, and
 * the parent key itself is never used twice. The input must already be a uniformly random key of
 * at least 32 bytes, so no salt is needed (RFC 5869, section 3.1).
 */
export function deriveKey(key: Buffer, info: string): Buffer {
  if (key.length < 32) throw new RangeError('deriveKey needs a key of at least 32 bytes');
  if (info.length === 0) throw new RangeError('deriveKey needs a purpose');
  return Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), info, 32));
}
