import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** The first byte of every sealed field; a new format would take a new number. */
export const FIELD_FORMAT_VERSION = 1;
export const KEY_BYTES = 32;

const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Thrown when a sealed value does not open: another key, other authenticated data, or bytes
 * changed. It says nothing about which, so a caller cannot be used to probe the ciphertext.
 */
export class DecryptionError extends Error {
  constructor() {
    super('The sealed value could not be opened');
    this.name = 'DecryptionError';
  }
}

/**
 * Seals a value with AES-256-GCM under a 32-byte key and a fresh random 96-bit IV:
 *
 *   [1 byte format version][12 bytes IV][ciphertext][16 bytes tag]
 *
 * The authenticated data binds the value to where it belongs (build it with canonicalAad), so a
 * sealed value copied to another row, column or user does not open there. The version byte is
 * authenticated too.
 */
export function sealField(key: Buffer, plaintext: Buffer, aad: Buffer): Buffer {
  checkKey(key);
  const header = Buffer.of(FIELD_FORMAT_VERSION);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.concat([header, aad]));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([header, iv, ciphertext, cipher.getAuthTag()]);
}

/** Opens what sealField sealed with the same key and authenticated data; DecryptionError otherwise. */
export function openField(key: Buffer, sealed: Buffer, aad: Buffer): Buffer {
  checkKey(key);
  if (sealed.length < 1 + IV_BYTES + TAG_BYTES || sealed[0] !== FIELD_FORMAT_VERSION) {
    throw new DecryptionError();
  }
  const iv = sealed.subarray(1, 1 + IV_BYTES);
  const ciphertext = sealed.subarray(1 + IV_BYTES, sealed.length - TAG_BYTES);
  const tag = sealed.subarray(sealed.length - TAG_BYTES);
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.concat([sealed.subarray(0, 1), aad]));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  } catch {
    throw new DecryptionError();
  }
}

function checkKey(key: Buffer): void {
  if (key.length !== KEY_BYTES) throw new RangeError(`A field key must be ${KEY_BYTES} bytes`);
}
