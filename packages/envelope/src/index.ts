/**
 * Envelope encryption: a key provider's key-encryption key wraps tenant keys, tenant keys wrap
 * user keys, user keys seal fields, each bound by its authenticated data to where it belongs.
 */
export {
  KeyProviderError,
  type EncryptionContext,
  type KeyProvider,
  type KeyProviderErrorKind,
  type WrappedKey,
} from './providers/key-provider.js';
export {
  createLocalKeyProvider,
  type LocalKeyProviderOptions,
} from './providers/local/local-key-provider.js';
export {
  createAwsKmsKeyProvider,
  type AwsKmsKeyProviderOptions,
} from './providers/aws-kms/aws-kms-key-provider.js';
export { DecryptionError, FIELD_FORMAT_VERSION, openField, sealField } from './seal-field.js';
export { canonicalAad } from './canonical-aad.js';
export { deriveKey } from './derive-key.js';
export { KeyCache, type KeyCacheOptions } from './key-cache.js';
export {
  keyProviderConfigSpec,
  keyProviderFromConfig,
  type KeyProviderConfig,
} from './config/key-provider-config.js';
