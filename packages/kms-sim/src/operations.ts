import { randomBytes } from 'node:crypto';
import { openBlob, readBlobHeader, sealBlob } from './ciphertext-blob.js';
import type { EncryptionContext } from './encryption-context.js';
import { currentMaterial, KeyStore, SIM_ACCOUNT, type SimKey } from './key-store.js';
import { KmsError } from './kms-error.js';
import {
  encryptionContext,
  optionalInteger,
  optionalString,
  requiredBlob,
  requiredString,
  type RequestBody,
} from './request-fields.js';

/** An operation: a request body in, a response body out, or a KmsError thrown. */
export type Operation = (keys: KeyStore, body: RequestBody) => Record<string, unknown>;

const ALGORITHM = 'SYMMETRIC_DEFAULT';
/** KMS refuses to encrypt more than this many bytes directly. */
const MAX_PLAINTEXT_BYTES = 4096;

/** The operations the simulator answers, by the name after `TrentService.` in x-amz-target. */
export const operations: Readonly<Record<string, Operation>> = {
  CreateKey(keys, body) {
    const keySpec = optionalString(body, 'KeySpec') ?? optionalString(body, 'CustomerMasterKeySpec');
    if (keySpec !== undefined && keySpec !== ALGORITHM) {
      throw new KmsError('ValidationException', 'Only SYMMETRIC_DEFAULT keys are simulated');
    }
    const usage = optionalString(body, 'KeyUsage');
    if (usage !== undefined && usage !== 'ENCRYPT_DECRYPT') {
      throw new KmsError('ValidationException', 'Only ENCRYPT_DECRYPT keys are simulated');
    }
    return { KeyMetadata: keyMetadata(keys.create(optionalString(body, 'Description'))) };
  },

  DescribeKey(keys, body) {
    return { KeyMetadata: keyMetadata(keys.get(requiredString(body, 'KeyId'))) };
  },

  EnableKey(keys, body) {
    keys.get(requiredString(body, 'KeyId')).enabled = true;
    return {};
  },

  DisableKey(keys, body) {
    keys.get(requiredString(body, 'KeyId')).enabled = false;
    return {};
  },

  GenerateDataKey(keys, body) {
    const { plaintext, ...rest } = generateDataKey(keys, body);
    return { ...rest, Plaintext: plaintext.toString('base64') };
  },

  GenerateDataKeyWithoutPlaintext(keys, body) {
    const { plaintext, ...rest } = generateDataKey(keys, body);
    plaintext.fill(0);
    return rest;
  },

  Encrypt(keys, body) {
    const key = keys.usable(requiredString(body, 'KeyId'));
    const plaintext = requiredBlob(body, 'Plaintext');
    if (plaintext.length < 1 || plaintext.length > MAX_PLAINTEXT_BYTES) {
      throw new KmsError('ValidationException', `Plaintext must hold 1 to ${MAX_PLAINTEXT_BYTES} bytes`);
    }
    const sealed = seal(key, plaintext, encryptionContext(body, 'EncryptionContext'));
    return { CiphertextBlob: sealed.blob, KeyId: key.arn, EncryptionAlgorithm: ALGORITHM };
  },

  Decrypt(keys, body) {
    const opened = open(
      keys,
      requiredBlob(body, 'CiphertextBlob'),
      encryptionContext(body, 'EncryptionContext'),
      optionalString(body, 'KeyId'),
    );
    return {
      KeyId: opened.key.arn,
      Plaintext: opened.plaintext.toString('base64'),
      EncryptionAlgorithm: ALGORITHM,
      KeyMaterialId: opened.materialId,
    };
  },

  ReEncrypt(keys, body) {
    const source = open(
      keys,
      requiredBlob(body, 'CiphertextBlob'),
      encryptionContext(body, 'SourceEncryptionContext'),
      optionalString(body, 'SourceKeyId'),
    );
    const destination = keys.usable(requiredString(body, 'DestinationKeyId'));
    const sealed = seal(
      destination,
      source.plaintext,
      encryptionContext(body, 'DestinationEncryptionContext'),
    );
    source.plaintext.fill(0);
    return {
      CiphertextBlob: sealed.blob,
      SourceKeyId: source.key.arn,
      KeyId: destination.arn,
      SourceEncryptionAlgorithm: ALGORITHM,
      DestinationEncryptionAlgorithm: ALGORITHM,
      SourceKeyMaterialId: source.materialId,
      DestinationKeyMaterialId: sealed.materialId,
    };
  },

  RotateKeyOnDemand(keys, body) {
    return { KeyId: keys.rotate(requiredString(body, 'KeyId')).arn };
  },
};

function generateDataKey(keys: KeyStore, body: RequestBody) {
  const key = keys.usable(requiredString(body, 'KeyId'));
  const plaintext = randomBytes(dataKeyBytes(body));
  const sealed = seal(key, plaintext, encryptionContext(body, 'EncryptionContext'));
  return { CiphertextBlob: sealed.blob, KeyId: key.arn, KeyMaterialId: sealed.materialId, plaintext };
}

function dataKeyBytes(body: RequestBody): number {
  const keySpec = optionalString(body, 'KeySpec');
  const numberOfBytes = optionalInteger(body, 'NumberOfBytes');
  if ((keySpec === undefined) === (numberOfBytes === undefined)) {
    throw new KmsError('ValidationException', 'Specify either KeySpec or NumberOfBytes, but not both');
  }
  if (keySpec === 'AES_256') return 32;
  if (keySpec === 'AES_128') return 16;
  if (keySpec !== undefined) throw new KmsError('ValidationException', 'KeySpec must be AES_256 or AES_128');
  if (numberOfBytes! < 1 || numberOfBytes! > 1024) {
    throw new KmsError('ValidationException', 'NumberOfBytes must be between 1 and 1024');
  }
  return numberOfBytes!;
}

function seal(key: SimKey, plaintext: Buffer, context: EncryptionContext) {
  const material = currentMaterial(key);
  const blob = sealBlob(
    material.key,
    { keyId: key.id, materialVersion: material.version },
    plaintext,
    context,
  );
  return { blob: blob.toString('base64'), materialId: material.id };
}

/**
 * Opens a blob. When the caller names a key, it must be the blob's key (IncorrectKeyException);
 * a blob that names no key of the simulator, a version it lacks, or does not authenticate under
 * the given context is an InvalidCiphertextException, which says nothing about which it was.
 */
function open(keys: KeyStore, blob: Buffer, context: EncryptionContext, keyId: string | undefined) {
  const invalid = new KmsError('InvalidCiphertextException', 'The ciphertext is invalid');
  const header = readBlobHeader(blob);
  if (!header) throw invalid;
  if (keyId !== undefined && keys.get(keyId).id !== header.keyId) {
    throw new KmsError(
      'IncorrectKeyException',
      'The key ID in the request does not identify the key that encrypted the ciphertext',
    );
  }
  let key: SimKey;
  try {
    key = keys.get(header.keyId);
  } catch {
    throw invalid;
  }
  if (!key.enabled) throw new KmsError('DisabledException', `${key.arn} is disabled.`);
  const material = key.materials[header.materialVersion - 1];
  const plaintext = material ? openBlob(material.key, blob, context) : undefined;
  if (!plaintext) throw invalid;
  return { key, plaintext, materialId: material!.id };
}

function keyMetadata(key: SimKey): Record<string, unknown> {
  return {
    AWSAccountId: SIM_ACCOUNT,
    KeyId: key.id,
    Arn: key.arn,
    CreationDate: key.createdAt.getTime() / 1000,
    Enabled: key.enabled,
    Description: key.description,
    KeyUsage: 'ENCRYPT_DECRYPT',
    KeyState: key.enabled ? 'Enabled' : 'Disabled',
    Origin: 'AWS_KMS',
    KeyManager: 'CUSTOMER',
    CustomerMasterKeySpec: ALGORITHM,
    KeySpec: ALGORITHM,
    EncryptionAlgorithms: [ALGORITHM],
    MultiRegion: false,
    CurrentKeyMaterialId: currentMaterial(key).id,
  };
}
