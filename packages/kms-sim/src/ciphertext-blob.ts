import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { encodeEncryptionContext, type EncryptionContext } from './encryption-context.js';

/**
 * The simulator's ciphertext blob. AWS's format is opaque to clients, so this one is the
 * simulator's own:
 *
 *   [1 byte version][16 bytes key uuid][4 bytes material version][12 bytes IV][ciphertext][16 bytes tag]
 *
 * AES-256-GCM under the named material of the named key. The authenticated data is the header
 * (version, key, material version) followed by the canonical encoding of the encryption context,
 * so changing any header byte, the context, the ciphertext or the tag fails decryption.
 */
export const BLOB_VERSION = 1;

const HEADER_BYTES = 1 + 16 + 4;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** What a blob says about itself, unauthenticated until it is opened. */
export interface BlobHeader {
  keyId: string;
  materialVersion: number;
}

export function sealBlob(
  material: Buffer,
  header: BlobHeader,
  plaintext: Buffer,
  context: EncryptionContext,
): Buffer {
  const head = encodeHeader(header);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', material, iv);
  cipher.setAAD(Buffer.concat([head, encodeEncryptionContext(context)]));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([head, iv, ciphertext, cipher.getAuthTag()]);
}

/** The header of a blob, or undefined when it is too short or of another version. */
export function readBlobHeader(blob: Buffer): BlobHeader | undefined {
  if (blob.length < HEADER_BYTES + IV_BYTES + TAG_BYTES || blob[0] !== BLOB_VERSION) return undefined;
  const hex = blob.subarray(1, 17).toString('hex');
  const keyId = [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)].join(
    '-',
  );
  return { keyId, materialVersion: blob.readUInt32BE(17) };
}

/** The plaintext of a blob, or undefined when it does not authenticate under this material and context. */
export function openBlob(material: Buffer, blob: Buffer, context: EncryptionContext): Buffer | undefined {
  if (readBlobHeader(blob) === undefined) return undefined;
  const head = blob.subarray(0, HEADER_BYTES);
  const iv = blob.subarray(HEADER_BYTES, HEADER_BYTES + IV_BYTES);
  const ciphertext = blob.subarray(HEADER_BYTES + IV_BYTES, blob.length - TAG_BYTES);
  const tag = blob.subarray(blob.length - TAG_BYTES);
  try {
    const decipher = createDecipheriv('aes-256-gcm', material, iv);
    decipher.setAAD(Buffer.concat([head, encodeEncryptionContext(context)]));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  } catch {
    return undefined;
  }
}

function encodeHeader(header: BlobHeader): Buffer {
  const head = Buffer.alloc(HEADER_BYTES);
  head[0] = BLOB_VERSION;
  Buffer.from(header.keyId.replaceAll('-', ''), 'hex').copy(head, 1);
  head.writeUInt32BE(header.materialVersion, 17);
  return head;
}
