import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  keyIdOf,
  parsePrivateKey,
  parsePublicKey,
  publicKeyPem,
  signCheckpoint,
  type Checkpoint,
  type UnsignedCheckpoint,
} from '@fleet/audit-chain';

export interface PublishedKey {
  keyId: string;
  publicKeyPem: string;
  /** Whether new checkpoints are signed with it; retired keys only verify older ones. */
  current: boolean;
}

/**
 * Audit's checkpoint key: signs checkpoints, and publishes its public key (with retired ones)
 * so that anyone can verify the log or an export. The private key never leaves this object.
 */
export class CheckpointSigner {
  readonly #privateKey: KeyObject;
  readonly #publicKeys: KeyObject[];
  readonly keyId: string;

  constructor(privateKey: KeyObject, retiredPublicKeys: readonly KeyObject[] = []) {
    this.#privateKey = privateKey;
    const current = createPublicKey(privateKey);
    this.keyId = keyIdOf(current);
    this.#publicKeys = [current, ...retiredPublicKeys.filter((key) => keyIdOf(key) !== this.keyId)];
  }

  sign(checkpoint: UnsignedCheckpoint): Checkpoint {
    return signCheckpoint(this.#privateKey, checkpoint);
  }

  /** The keys a checkpoint may be signed with: the current one first. */
  get publicKeys(): readonly KeyObject[] {
    return this.#publicKeys;
  }

  published(): PublishedKey[] {
    return this.#publicKeys.map((key, index) => ({
      keyId: keyIdOf(key),
      publicKeyPem: publicKeyPem(key),
      current: index === 0,
    }));
  }
}

/**
 * The signer from configuration: the configured key when there is one, else the key kept in the
 * data directory, made on first start (mode 0600). Retired public keys are PEM or base64url DER,
 * comma separated.
 */
export function loadCheckpointSigner(options: {
  configuredKey: string | undefined;
  retiredPublicKeys: string | undefined;
  dataDir: string;
}): CheckpointSigner {
  const privateKey = options.configuredKey
    ? parsePrivateKey(options.configuredKey)
    : keyFromDataDir(options.dataDir);
  const retired = (options.retiredPublicKeys ?? '')
    .split(',')
    .map((text) => text.trim())
    .filter((text) => text !== '')
    .map(parsePublicKey);
  return new CheckpointSigner(privateKey, retired);
}

function keyFromDataDir(dataDir: string): KeyObject {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const path = join(dataDir, 'checkpoint-key.pem');
  try {
    const text = readFileSync(path, 'utf8');
    if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
    return parsePrivateKey(text);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new Error(`Cannot read the checkpoint key ${path}: ${(error as Error).message}`);
    }
  }
  const { privateKey } = generateKeyPairSync('ed25519');
  writeFileSync(path, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600, flag: 'wx' });
  return privateKey;
}
