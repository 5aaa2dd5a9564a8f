import { randomBytes } from 'node:crypto';

/** Bytes of every signing key: 256 bits. */
export const KEY_BYTES = 32;

/** A new random key, as it is written to configuration: base64url text. */
export function generateKey(): string {
  return randomBytes(KEY_BYTES).toString('base64url');
}

/** Reads a key from configuration text, or returns a reason it is unusable. */
export function decodeKey(text: string): Buffer | { error: string } {
  if (!/^[A-Za-z0-9_-]+$/.test(text)) return { error: 'must be base64url text' };
  const key = Buffer.from(text, 'base64url');
  if (key.length < KEY_BYTES) return { error: `must hold at least ${KEY_BYTES} bytes` };
  return key;
}
