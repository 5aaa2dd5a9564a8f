/**
 * What a data key is bound to at the provider: a wrapped key opens only with the same context,
 * so one tenant's wrapped key cannot be unwrapped as another's.
 */
export interface EncryptionContext {
  readonly tenant: string;
  readonly purpose: string;
}

/** A data key as stored: the wrapped bytes and which key-encryption key wrapped them. */
export interface WrappedKey {
  readonly wrapped: Buffer;
  readonly keyRef: string;
}

/**
 * Who holds the key-encryption keys: a local key file, or AWS KMS. Data keys leave the provider
 * wrapped, and are unwrapped only in memory, only by the provider.
 */
export interface KeyProvider {
  readonly kind: 'local' | 'aws-kms';
  /** A new random 32-byte data key, and the same key wrapped under the current key-encryption key. */
  generateDataKey(context: EncryptionContext): Promise<{ plaintext: Buffer; wrapped: WrappedKey }>;
  unwrap(key: WrappedKey, context: EncryptionContext): Promise<Buffer>;
  /** Re-wraps under the provider's current key-encryption key (aws-kms: ReEncrypt, plaintext never leaves KMS). */
  rewrap(key: WrappedKey, context: EncryptionContext): Promise<WrappedKey>;
  /**
   * Starts a new key-encryption key for new wraps and rewraps; returns its keyRef. local: adds a
   * version to the key file; aws-kms: returns the configured key's ref (AWS rotates material itself).
   */
  rotate(): Promise<string>;
  /** The keyRef new wraps and rewraps get. */
  currentKeyRef(): string;
}

export type KeyProviderErrorKind =
  'unavailable' | 'throttled' | 'denied' | 'disabled' | 'invalid-ciphertext' | 'config';

/**
 * A provider failure, by kind, so callers can tell "try again later" from "this wrapped key is
 * not valid here". Messages never contain key material or plaintext.
 */
export class KeyProviderError extends Error {
  readonly kind: KeyProviderErrorKind;

  constructor(kind: KeyProviderErrorKind, message: string) {
    super(message);
    this.name = 'KeyProviderError';
    this.kind = kind;
  }
}

/** Refuses an incomplete context: an empty tenant or purpose would bind a key to nothing. */
export function checkContext(context: EncryptionContext): void {
  if (typeof context.tenant !== 'string' || context.tenant === '') {
    throw new KeyProviderError('config', 'An encryption context needs a tenant');
  }
  if (typeof context.purpose !== 'string' || context.purpose === '') {
    throw new KeyProviderError('config', 'An encryption context needs a purpose');
  }
}

/** Bytes of every data key a provider generates. */
export const DATA_KEY_BYTES = 32;
