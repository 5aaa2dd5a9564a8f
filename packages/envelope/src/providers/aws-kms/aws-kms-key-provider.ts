import {
  DecryptCommand,
  DescribeKeyCommand,
  GenerateDataKeyCommand,
  KMSClient,
  ReEncryptCommand,
} from '@aws-sdk/client-kms';
import {
  checkContext,
  DATA_KEY_BYTES,
  KeyProviderError,
  type EncryptionContext,
  type KeyProvider,
  type WrappedKey,
} from '../key-provider.js';
import { keyProviderErrorOf } from './aws-kms-errors.js';

export interface AwsKmsKeyProviderOptions {
  /** Unset: AWS's own endpoint for the region. Must be https, except on the loopback interface. */
  endpoint?: string;
  region: string;
  /** The KMS key that wraps data keys: a key ARN (best), key id, alias name or alias ARN. */
  keyId: string;
  /** Required: the SDK's default credential chain is never consulted. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Attempts per call, the first included (default 3); throttling and network failures are retried. */
  maxAttempts?: number;
  /** Time allowed to connect, and to complete each attempt (default 3000). */
  requestTimeoutMs?: number;
}

const KEY_ARN = /^arn:aws[a-z-]*:kms:[^:]+:\d{12}:key\/.+$/;
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * A key provider backed by AWS KMS. Data keys come from GenerateDataKey (AES_256) bound to the
 * encryption context {tenant, purpose}; unwrapping is Decrypt naming the key that wrapped them;
 * rewrapping is ReEncrypt to the configured key, so the data key never leaves KMS in the clear.
 * A keyRef is the key ARN KMS answers with.
 *
 * The client reaches the configured endpoint and nothing else: credentials must be given, so the
 * SDK never walks its default chain (which may query the EC2 metadata host), and the defaults mode
 * and retry mode are fixed, so it never probes that host for its region either.
 */
export function createAwsKmsKeyProvider(options: AwsKmsKeyProviderOptions): KeyProvider {
  const { credentials, region, keyId } = options;
  if (!credentials?.accessKeyId || !credentials.secretAccessKey) {
    throw new KeyProviderError(
      'config',
      'The aws-kms key provider needs explicit credentials (an access key id and a secret access key)',
    );
  }
  if (!region) throw new KeyProviderError('config', 'The aws-kms key provider needs a region');
  if (!keyId) throw new KeyProviderError('config', 'The aws-kms key provider needs a key id');
  if (options.endpoint !== undefined) checkEndpoint(options.endpoint);
  const timeout = options.requestTimeoutMs ?? 3_000;
  const maxAttempts = options.maxAttempts ?? 3;
  if (!(timeout > 0)) throw new KeyProviderError('config', 'requestTimeoutMs must be positive');
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
    throw new KeyProviderError('config', 'maxAttempts must be a positive integer');
  }
  const client = new KMSClient({
    region,
    ...(options.endpoint !== undefined ? { endpoint: options.endpoint } : {}),
    credentials: { accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey },
    maxAttempts,
    retryMode: 'standard',
    defaultsMode: 'standard',
    // Without throwOnRequestTimeout the SDK only logs a warning when requestTimeout passes.
    requestHandler: { connectionTimeout: timeout, requestTimeout: timeout, throwOnRequestTimeout: true },
  });
  return new AwsKmsKeyProvider(client, keyId);
}

class AwsKmsKeyProvider implements KeyProvider {
  readonly kind = 'aws-kms' as const;
  readonly #client: KMSClient;
  readonly #keyId: string;
  /** The configured key as KMS names it (its ARN), once an answer has told; until then as configured. */
  #currentRef: string;

  constructor(client: KMSClient, keyId: string) {
    this.#client = client;
    this.#keyId = keyId;
    this.#currentRef = keyId;
  }

  currentKeyRef(): string {
    return this.#currentRef;
  }

  async generateDataKey(context: EncryptionContext): Promise<{ plaintext: Buffer; wrapped: WrappedKey }> {
    checkContext(context);
    const result = await this.#call('GenerateDataKey', () =>
      this.#client.send(
        new GenerateDataKeyCommand({
          KeyId: this.#keyId,
          KeySpec: 'AES_256',
          EncryptionContext: kmsContext(context),
        }),
      ),
    );
    const plaintext = takeDataKey('GenerateDataKey', result.Plaintext);
    const wrapped = wrappedKeyOf('GenerateDataKey', result.CiphertextBlob, result.KeyId);
    this.#currentRef = wrapped.keyRef;
    return { plaintext, wrapped };
  }

  async unwrap(key: WrappedKey, context: EncryptionContext): Promise<Buffer> {
    checkContext(context);
    checkKeyRef(key.keyRef);
    const result = await this.#call('Decrypt', () =>
      this.#client.send(
        new DecryptCommand({
          CiphertextBlob: key.wrapped,
          KeyId: key.keyRef,
          EncryptionContext: kmsContext(context),
        }),
      ),
    );
    return takeDataKey('Decrypt', result.Plaintext);
  }

  async rewrap(key: WrappedKey, context: EncryptionContext): Promise<WrappedKey> {
    checkContext(context);
    checkKeyRef(key.keyRef);
    const result = await this.#call('ReEncrypt', () =>
      this.#client.send(
        new ReEncryptCommand({
          CiphertextBlob: key.wrapped,
          SourceKeyId: key.keyRef,
          SourceEncryptionContext: kmsContext(context),
          DestinationKeyId: this.#keyId,
          DestinationEncryptionContext: kmsContext(context),
        }),
      ),
    );
    const wrapped = wrappedKeyOf('ReEncrypt', result.CiphertextBlob, result.KeyId);
    this.#currentRef = wrapped.keyRef;
    return wrapped;
  }

  /**
   * KMS rotates key material itself, and ReEncrypt always seals under the newest material, so
   * there is no new key to start: this returns the configured key's ARN, asking KMS for it only
   * when the key was configured by another name.
   */
  async rotate(): Promise<string> {
    if (!KEY_ARN.test(this.#currentRef)) {
      const result = await this.#call('DescribeKey', () =>
        this.#client.send(new DescribeKeyCommand({ KeyId: this.#keyId })),
      );
      const arn = result.KeyMetadata?.Arn;
      if (!arn) throw new KeyProviderError('unavailable', 'KMS DescribeKey answered without the key ARN');
      this.#currentRef = arn;
    }
    return this.#currentRef;
  }

  async #call<T>(operation: string, send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (error) {
      throw keyProviderErrorOf(operation, error);
    }
  }
}

/** The context as KMS takes it: exactly the two members, nothing a caller's object may carry besides. */
function kmsContext(context: EncryptionContext): Record<string, string> {
  return { tenant: context.tenant, purpose: context.purpose };
}

function checkKeyRef(keyRef: string): void {
  if (!keyRef.startsWith('arn:')) {
    throw new KeyProviderError('config', `The key ${keyRef} was not wrapped by KMS`);
  }
}

function checkEndpoint(endpoint: string): void {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new KeyProviderError('config', 'The KMS endpoint is not a URL');
  }
  if (url.protocol === 'https:') return;
  if (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname)) return;
  throw new KeyProviderError(
    'config',
    `The KMS endpoint ${url.origin} must use https (plain http is allowed on the loopback interface only): data keys cross it`,
  );
}

/** A Buffer of the data key, and the SDK's copy zero-filled. */
function takeDataKey(operation: string, plaintext: Uint8Array | undefined): Buffer {
  if (!plaintext || plaintext.length !== DATA_KEY_BYTES) {
    plaintext?.fill(0);
    throw new KeyProviderError(
      'invalid-ciphertext',
      `KMS ${operation} did not answer with a ${DATA_KEY_BYTES}-byte data key`,
    );
  }
  const key = Buffer.from(plaintext);
  plaintext.fill(0);
  return key;
}

function wrappedKeyOf(
  operation: string,
  blob: Uint8Array | undefined,
  keyId: string | undefined,
): WrappedKey {
  if (!blob || !keyId) {
    throw new KeyProviderError('unavailable', `KMS ${operation} answered without a ciphertext or key id`);
  }
  return { wrapped: Buffer.from(blob), keyRef: keyId };
}
