import { KeyProviderError, type KeyProviderErrorKind } from '../key-provider.js';

const KINDS: Readonly<Record<string, KeyProviderErrorKind>> = {
  ThrottlingException: 'throttled',
  TooManyRequestsException: 'throttled',
  LimitExceededException: 'throttled',
  DisabledException: 'disabled',
  KMSInvalidStateException: 'disabled',
  InvalidCiphertextException: 'invalid-ciphertext',
  IncorrectKeyException: 'invalid-ciphertext',
  AccessDeniedException: 'denied',
  NotFoundException: 'denied',
  UnrecognizedClientException: 'denied',
  InvalidSignatureException: 'denied',
  IncompleteSignatureException: 'denied',
  MissingAuthenticationTokenException: 'denied',
  ExpiredTokenException: 'denied',
  KeyUnavailableException: 'unavailable',
  DependencyTimeoutException: 'unavailable',
  KMSInternalException: 'unavailable',
};

interface SdkError {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

/**
 * A KeyProviderError for what the SDK threw. Known KMS exceptions map by name. With no HTTP
 * answer at all (connection refused, reset, timed out, aborted) KMS is 'unavailable', as it is for
 * a 5xx; any other refusal is taken for a mistake in configuration. KMS never puts key material in
 * an error, so its message is kept, shortened.
 */
export function keyProviderErrorOf(operation: string, error: unknown): KeyProviderError {
  const sdkError = (typeof error === 'object' && error !== null ? error : {}) as SdkError;
  const name = sdkError.name ?? 'Error';
  const status = sdkError.$metadata?.httpStatusCode;
  const kind =
    KINDS[name] ?? (status !== undefined && status >= 400 && status < 500 ? 'config' : 'unavailable');
  const detail = [name, sdkError.code, sdkError.message?.slice(0, 200)].filter(Boolean).join(': ');
  return new KeyProviderError(kind, `KMS ${operation} failed (${kind}): ${detail}`);
}
