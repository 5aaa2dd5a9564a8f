import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { canonicalAad } from '../../canonical-aad.js';
import { DecryptionError, openField, sealField } from '../../seal-field.js';
import {
  checkContext,
  DATA_KEY_BYTES,
  KeyProviderError,
  type EncryptionContext,
  type KeyProvider,
  type WrappedKey,
} from '../key-provider.js';
import { createKeyFile, newKeyId, readKeyFile, replaceKeyFile, type KeyFile } from './local-key-file.js';

export interface LocalKeyProviderOptions {
  /** The master key file; created (mode 0600, directory 0700) when missing. */
  keyFile: string;
}

const REF_PREFIX = 'local:';
const randomBytesAsync = promisify(randomBytes);
const WRAP_LABEL = 'fleet-local-kek-v1';

/**
 * A key provider whose key-encryption keys are master keys in a local file (see local-key-file).
 * Data keys are wrapped with AES-256-GCM under the current master key, bound to the tenant, the
 * purpose and the master key's id; their keyRef is `local:<id>`.
 *
 * For single hosts and development. Rotate from one process at a time: a process learns of keys
 * another added when it meets a keyRef it does not know, but keeps wrapping under its own current
 * key until it rotates or restarts.
 */
export async function createLocalKeyProvider(options: LocalKeyProviderOptions): Promise<KeyProvider> {
  const path = options.keyFile;
  const file = await withFileErrors(
    path,
    async () => (await readKeyFile(path)) ?? (await createKeyFile(path)),
  );
  return new LocalKeyProvider(path, file);
}

class LocalKeyProvider implements KeyProvider {
  readonly kind = 'local' as const;
  readonly #path: string;
  #file: KeyFile;
  /** Rotations run one after another, each on the file as the one before left it. */
  #rotation: Promise<unknown> = Promise.resolve();

  constructor(path: string, file: KeyFile) {
    this.#path = path;
    this.#file = file;
  }

  currentKeyRef(): string {
    return `${REF_PREFIX}${this.#file.current}`;
  }

  async generateDataKey(context: EncryptionContext): Promise<{ plaintext: Buffer; wrapped: WrappedKey }> {
    checkContext(context);
    const plaintext = await randomBytesAsync(DATA_KEY_BYTES);
    return { plaintext, wrapped: this.#wrap(plaintext, context) };
  }

  async unwrap(key: WrappedKey, context: EncryptionContext): Promise<Buffer> {
    checkContext(context);
    const id = this.#idOf(key.keyRef);
    const master = await this.#masterKey(id);
    let plaintext: Buffer;
    try {
      plaintext = openField(master, key.wrapped, wrapAad(context, id));
    } catch (error) {
      if (!(error instanceof DecryptionError)) throw error;
      throw new KeyProviderError(
        'invalid-ciphertext',
        `The wrapped key does not open under ${key.keyRef} in this context`,
      );
    }
    if (plaintext.length !== DATA_KEY_BYTES) {
      plaintext.fill(0);
      throw new KeyProviderError('invalid-ciphertext', 'The wrapped key is not a data key');
    }
    return plaintext;
  }

  async rewrap(key: WrappedKey, context: EncryptionContext): Promise<WrappedKey> {
    const plaintext = await this.unwrap(key, context);
    try {
      return this.#wrap(plaintext, context);
    } finally {
      plaintext.fill(0);
    }
  }

  rotate(): Promise<string> {
    const rotated = this.#rotation.then(() => this.#rotate());
    this.#rotation = rotated.catch(() => undefined);
    return rotated;
  }

  async #rotate(): Promise<string> {
    // Read again first, so keys another process added are kept.
    const file = await withFileErrors(this.#path, () => readKeyFile(this.#path));
    if (!file) throw new KeyProviderError('config', `The master key file ${this.#path} has disappeared`);
    const id = newKeyId();
    const next: KeyFile = { current: id, keys: new Map([...file.keys, [id, randomBytes(32)]]) };
    await withFileErrors(this.#path, () => replaceKeyFile(this.#path, next));
    this.#file = next;
    return this.currentKeyRef();
  }

  #wrap(plaintext: Buffer, context: EncryptionContext): WrappedKey {
    const id = this.#file.current;
    const master = this.#file.keys.get(id)!;
    return { wrapped: sealField(master, plaintext, wrapAad(context, id)), keyRef: `${REF_PREFIX}${id}` };
  }

  #idOf(keyRef: string): string {
    if (!keyRef.startsWith(REF_PREFIX)) {
      throw new KeyProviderError('config', `The key ${keyRef} was wrapped by another kind of key provider`);
    }
    return keyRef.slice(REF_PREFIX.length);
  }

  /** The master key of this id, reading the file again once if it is not known yet. */
  async #masterKey(id: string): Promise<Buffer> {
    let master = this.#file.keys.get(id);
    if (!master) {
      const file = await withFileErrors(this.#path, () => readKeyFile(this.#path));
      master = file?.keys.get(id);
      // Keys are only ever added, so merging keeps every key either side knows.
      if (file && master)
        this.#file = { current: this.#file.current, keys: new Map([...file.keys, ...this.#file.keys]) };
    }
    if (!master) {
      throw new KeyProviderError('config', `The master key file ${this.#path} holds no key "${id}"`);
    }
    return master;
  }
}

/** The authenticated data of a wrap: the data key opens only for this tenant, purpose and master key. */
function wrapAad(context: EncryptionContext, id: string): Buffer {
  return canonicalAad(WRAP_LABEL, [context.tenant, context.purpose, id]);
}

/** Runs a file operation, turning a system error into a config error that names the file. */
async function withFileErrors<T>(path: string, operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    if (error instanceof KeyProviderError) throw error;
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new KeyProviderError('config', `The master key file ${path} cannot be used (${code})`);
  }
}
