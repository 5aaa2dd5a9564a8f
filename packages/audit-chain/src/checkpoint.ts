import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { canonicalJson } from '@fleet/request-signing';

/**
 * A signed checkpoint: audit's Ed25519 signature over the chain's head at a position, chained to
 * the checkpoint before it (CloudTrail's digest files do the same). Anyone holding the public key
 * can check that a chain reaching `hash` at `position` is the one audit wrote, and that no
 * checkpoint between two others was removed.
 */
export interface Checkpoint {
  position: number;
  hash: string;
  createdAt: string;
  /** The signature of the checkpoint before this one; null for the first. */
  previousSignature: string | null;
  /** Which key signed: the first 16 hex digits of SHA-256 of its raw public key. */
  keyId: string;
  /** Ed25519 signature, base64url. */
  signature: string;
}

export type UnsignedCheckpoint = Omit<Checkpoint, 'keyId' | 'signature'>;

/** The exact bytes a checkpoint's signature covers. */
export function checkpointMessage(checkpoint: UnsignedCheckpoint & { keyId: string }): Buffer {
  return Buffer.from(
    canonicalJson({
      format: 'fleet-audit-checkpoint/1',
      position: checkpoint.position,
      hash: checkpoint.hash,
      createdAt: checkpoint.createdAt,
      previousSignature: checkpoint.previousSignature,
      keyId: checkpoint.keyId,
    }),
  );
}

export function keyIdOf(publicKey: KeyObject): string {
  const raw = publicKey.export({ format: 'der', type: 'spki' });
  return createHash('sha256').update(raw).digest('hex').slice(0, 16);
}

export function signCheckpoint(privateKey: KeyObject, checkpoint: UnsignedCheckpoint): Checkpoint {
  const keyId = keyIdOf(createPublicKey(privateKey));
  const signature = sign(null, checkpointMessage({ ...checkpoint, keyId }), privateKey).toString('base64url');
  return { ...checkpoint, keyId, signature };
}

/** Whether one of the keys, the one its keyId names, made the checkpoint's signature. */
export function checkpointSignedBy(checkpoint: Checkpoint, publicKeys: readonly KeyObject[]): boolean {
  const key = publicKeys.find((candidate) => keyIdOf(candidate) === checkpoint.keyId);
  if (!key) return false;
  try {
    return verify(null, checkpointMessage(checkpoint), key, Buffer.from(checkpoint.signature, 'base64url'));
  } catch {
    return false;
  }
}

/** An Ed25519 private key from PKCS#8 PEM text, or from the base64url of its DER. */
export function parsePrivateKey(text: string): KeyObject {
  const key = text.includes('-----BEGIN')
    ? createPrivateKey(text)
    : createPrivateKey({ key: Buffer.from(text.trim(), 'base64url'), format: 'der', type: 'pkcs8' });
  if (key.asymmetricKeyType !== 'ed25519') throw new Error('the checkpoint key must be an Ed25519 key');
  return key;
}

/** An Ed25519 public key from SPKI PEM text, or from the base64url of its DER. */
export function parsePublicKey(text: string): KeyObject {
  const key = text.includes('-----BEGIN')
    ? createPublicKey(text)
    : createPublicKey({ key: Buffer.from(text.trim(), 'base64url'), format: 'der', type: 'spki' });
  if (key.asymmetricKeyType !== 'ed25519') throw new Error('the public key must be an Ed25519 key');
  return key;
}

export function publicKeyPem(key: KeyObject): string {
  const publicKey = key.type === 'public' ? key : createPublicKey(key);
  return publicKey.export({ format: 'pem', type: 'spki' }).toString();
}
