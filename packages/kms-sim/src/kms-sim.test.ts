import {
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  EnableKeyCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GenerateDataKeyWithoutPlaintextCommand,
  KMSClient,
  ReEncryptCommand,
  RotateKeyOnDemandCommand,
} from '@aws-sdk/client-kms';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startKmsSim, type KmsSim } from './index.js';

let sim: KmsSim;
let kms: KMSClient;
let keyArn: string;

function client(options: { maxAttempts?: number } = {}): KMSClient {
  return new KMSClient({
    endpoint: sim.url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    ...options,
  });
}

async function encrypt(plaintext: string, context: Record<string, string> = {}, keyId = keyArn) {
  const result = await kms.send(
    new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from(plaintext), EncryptionContext: context }),
  );
  return result.CiphertextBlob!;
}

async function decrypt(blob: Uint8Array, context: Record<string, string> = {}, keyId?: string) {
  const result = await kms.send(
    new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: context, KeyId: keyId }),
  );
  return Buffer.from(result.Plaintext!).toString();
}

beforeAll(async () => {
  sim = await startKmsSim();
  kms = client();
  keyArn = sim.createKey();
});
afterEach(() => sim.faults.clear());
afterAll(async () => {
  kms.destroy();
  await sim.stop();
});

describe('keys', () => {
  it('listens on 127.0.0.1 and names keys by ARN', () => {
    expect(sim.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(keyArn).toMatch(/^arn:aws:kms:us-east-1:111122223333:key\/[0-9a-f-]{36}$/);
  });

  it('creates and describes keys, by id or by ARN', async () => {
    const created = await kms.send(new CreateKeyCommand({ Description: 'tenant keys' }));
    const { KeyId, Arn } = created.KeyMetadata!;
    expect(Arn).toBe(`arn:aws:kms:us-east-1:111122223333:key/${KeyId}`);
    for (const id of [KeyId, Arn]) {
      const described = await kms.send(new DescribeKeyCommand({ KeyId: id }));
      expect(described.KeyMetadata).toMatchObject({
        KeyId,
        Arn,
        Description: 'tenant keys',
        Enabled: true,
        KeyState: 'Enabled',
        KeySpec: 'SYMMETRIC_DEFAULT',
      });
      expect(described.KeyMetadata!.CreationDate).toBeInstanceOf(Date);
    }
  });

  it('answers NotFoundException for a key it does not hold', async () => {
    const unknown = 'arn:aws:kms:us-east-1:111122223333:key/00000000-0000-4000-8000-000000000000';
    await expect(encrypt('x', {}, unknown)).rejects.toMatchObject({ name: 'NotFoundException' });
    await expect(encrypt('x', {}, 'alias/tenant-keys')).rejects.toMatchObject({ name: 'NotFoundException' });
  });
});

describe('encrypt and decrypt', () => {
  it('round-trips, echoing the key ARN, with the context in any order', async () => {
    const blob = await encrypt('secret', { tenant: 't1', purpose: 'tenant-key' });
    const result = await kms.send(
      new DecryptCommand({
        CiphertextBlob: blob,
        EncryptionContext: { purpose: 'tenant-key', tenant: 't1' },
      }),
    );
    expect(Buffer.from(result.Plaintext!).toString()).toBe('secret');
    expect(result.KeyId).toBe(keyArn);
  });

  it('refuses another encryption context, a missing one, and a tampered blob', async () => {
    const blob = await encrypt('secret', { ab: 'c' });
    await expect(decrypt(blob, { a: 'bc' })).rejects.toMatchObject({ name: 'InvalidCiphertextException' });
    await expect(decrypt(blob, { ab: 'c', x: '' })).rejects.toMatchObject({
      name: 'InvalidCiphertextException',
    });
    await expect(decrypt(blob)).rejects.toMatchObject({ name: 'InvalidCiphertextException' });
    // Every region of the blob: version, key, material version, IV, ciphertext, tag.
    for (const at of [0, 5, 20, 25, 35, blob.length - 1]) {
      const tampered = Buffer.from(blob);
      tampered[at]! ^= 1;
      await expect(decrypt(tampered, { ab: 'c' })).rejects.toMatchObject({
        name: 'InvalidCiphertextException',
      });
    }
    await expect(decrypt(blob.subarray(0, 30), { ab: 'c' })).rejects.toMatchObject({
      name: 'InvalidCiphertextException',
    });
  });

  it('checks a KeyId given with Decrypt against the key of the blob', async () => {
    const blob = await encrypt('secret');
    expect(await decrypt(blob, {}, keyArn)).toBe('secret');
    await expect(decrypt(blob, {}, sim.createKey())).rejects.toMatchObject({ name: 'IncorrectKeyException' });
  });
});

describe('data keys', () => {
  it('generates a 256-bit data key and its blob', async () => {
    const context = { tenant: 't1', purpose: 'tenant-key' };
    const generated = await kms.send(
      new GenerateDataKeyCommand({ KeyId: keyArn, KeySpec: 'AES_256', EncryptionContext: context }),
    );
    expect(generated.Plaintext).toHaveLength(32);
    expect(generated.KeyId).toBe(keyArn);
    const decrypted = await kms.send(
      new DecryptCommand({ CiphertextBlob: generated.CiphertextBlob, EncryptionContext: context }),
    );
    expect(Buffer.from(decrypted.Plaintext!)).toEqual(Buffer.from(generated.Plaintext!));
    expect(decrypted.KeyMaterialId).toBe(generated.KeyMaterialId);
  });

  it('generates NumberOfBytes, and refuses both or neither of KeySpec and NumberOfBytes', async () => {
    const generated = await kms.send(new GenerateDataKeyCommand({ KeyId: keyArn, NumberOfBytes: 64 }));
    expect(generated.Plaintext).toHaveLength(64);
    await expect(
      kms.send(new GenerateDataKeyCommand({ KeyId: keyArn, KeySpec: 'AES_256', NumberOfBytes: 32 })),
    ).rejects.toMatchObject({ name: 'ValidationException' });
    await expect(kms.send(new GenerateDataKeyCommand({ KeyId: keyArn }))).rejects.toMatchObject({
      name: 'ValidationException',
    });
  });

  it('generates a data key without its plaintext', async () => {
    const generated = await kms.send(
      new GenerateDataKeyWithoutPlaintextCommand({
        KeyId: keyArn,
        KeySpec: 'AES_256',
        EncryptionContext: { tenant: 't2' },
      }),
    );
    expect(generated).not.toHaveProperty('Plaintext');
    const decrypted = await kms.send(
      new DecryptCommand({ CiphertextBlob: generated.CiphertextBlob, EncryptionContext: { tenant: 't2' } }),
    );
    expect(decrypted.Plaintext).toHaveLength(32);
  });
});

describe('disabled keys', () => {
  it('refuse to encrypt, decrypt and generate until enabled again', async () => {
    const arn = sim.createKey();
    const blob = await encrypt('secret', {}, arn);
    sim.disableKey(arn);
    await expect(encrypt('x', {}, arn)).rejects.toMatchObject({ name: 'DisabledException' });
    await expect(decrypt(blob)).rejects.toMatchObject({ name: 'DisabledException' });
    await expect(
      kms.send(new GenerateDataKeyCommand({ KeyId: arn, KeySpec: 'AES_256' })),
    ).rejects.toMatchObject({ name: 'DisabledException' });
    sim.enableKey(arn);
    expect(await decrypt(blob)).toBe('secret');
  });

  it('are switched by the DisableKey and EnableKey operations too', async () => {
    const arn = sim.createKey();
    await kms.send(new DisableKeyCommand({ KeyId: arn }));
    const described = await kms.send(new DescribeKeyCommand({ KeyId: arn }));
    expect(described.KeyMetadata).toMatchObject({ Enabled: false, KeyState: 'Disabled' });
    await expect(encrypt('x', {}, arn)).rejects.toMatchObject({ name: 'DisabledException' });
    await kms.send(new EnableKeyCommand({ KeyId: arn }));
    expect(await decrypt(await encrypt('back', {}, arn))).toBe('back');
  });
});

describe('re-encryption and rotation', () => {
  it('re-encrypts under another key and context without showing the plaintext', async () => {
    const destination = sim.createKey();
    const blob = await encrypt('secret', { v: '1' });
    const moved = await kms.send(
      new ReEncryptCommand({
        CiphertextBlob: blob,
        SourceEncryptionContext: { v: '1' },
        DestinationKeyId: destination,
        DestinationEncryptionContext: { v: '2' },
      }),
    );
    expect(moved).toMatchObject({ SourceKeyId: keyArn, KeyId: destination });
    expect(moved).not.toHaveProperty('Plaintext');
    expect(await decrypt(moved.CiphertextBlob!, { v: '2' }, destination)).toBe('secret');
    await expect(decrypt(moved.CiphertextBlob!, { v: '1' })).rejects.toMatchObject({
      name: 'InvalidCiphertextException',
    });
  });

  it('refuses to re-encrypt with the wrong source context or source key', async () => {
    const blob = await encrypt('secret', { v: '1' });
    const request = { CiphertextBlob: blob, DestinationKeyId: keyArn, SourceEncryptionContext: { v: '1' } };
    await expect(
      kms.send(new ReEncryptCommand({ ...request, SourceEncryptionContext: { v: '2' } })),
    ).rejects.toMatchObject({ name: 'InvalidCiphertextException' });
    await expect(
      kms.send(new ReEncryptCommand({ ...request, SourceKeyId: sim.createKey() })),
    ).rejects.toMatchObject({ name: 'IncorrectKeyException' });
  });

  it('rotates on demand: new blobs use new material, old blobs still decrypt', async () => {
    const arn = sim.createKey();
    const before = await kms.send(new GenerateDataKeyCommand({ KeyId: arn, KeySpec: 'AES_256' }));
    const rotated = await kms.send(new RotateKeyOnDemandCommand({ KeyId: arn }));
    expect(rotated.KeyId).toBe(arn);
    const after = await kms.send(new GenerateDataKeyCommand({ KeyId: arn, KeySpec: 'AES_256' }));
    expect(after.KeyMaterialId).not.toBe(before.KeyMaterialId);
    const old = await kms.send(new DecryptCommand({ CiphertextBlob: before.CiphertextBlob }));
    expect(Buffer.from(old.Plaintext!)).toEqual(Buffer.from(before.Plaintext!));
    expect(old.KeyMaterialId).toBe(before.KeyMaterialId);
    const moved = await kms.send(
      new ReEncryptCommand({ CiphertextBlob: before.CiphertextBlob, DestinationKeyId: arn }),
    );
    expect(moved.SourceKeyMaterialId).toBe(before.KeyMaterialId);
    expect(moved.DestinationKeyMaterialId).toBe(after.KeyMaterialId);
  });
});

describe('faults', () => {
  it('throttles: the SDK sees ThrottlingException, then the next request passes', async () => {
    const once = client({ maxAttempts: 1 });
    sim.faults.throttle(1);
    await expect(once.send(new DescribeKeyCommand({ KeyId: keyArn }))).rejects.toMatchObject({
      name: 'ThrottlingException',
      $metadata: { httpStatusCode: 400 },
    });
    await expect(once.send(new DescribeKeyCommand({ KeyId: keyArn }))).resolves.toBeDefined();
    once.destroy();
  });

  it('throttles every request when told to, and counts each attempt the SDK makes', async () => {
    const thrice = client({ maxAttempts: 3 });
    sim.faults.throttle('always');
    sim.resetCalls();
    await expect(thrice.send(new DescribeKeyCommand({ KeyId: keyArn }))).rejects.toMatchObject({
      name: 'ThrottlingException',
    });
    expect(sim.calls()).toEqual({ DescribeKey: 3 });
    thrice.destroy();
  });

  it('delays answers by the latency set', async () => {
    sim.faults.latency(150);
    const started = Date.now();
    await kms.send(new DescribeKeyCommand({ KeyId: keyArn }));
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
  });

  it('counts calls per operation until reset', async () => {
    sim.resetCalls();
    const blob = await encrypt('x');
    await decrypt(blob);
    await decrypt(blob);
    expect(sim.calls()).toEqual({ Encrypt: 1, Decrypt: 2 });
    sim.resetCalls();
    expect(sim.calls()).toEqual({});
  });

  it('stops, so clients see it down, and starts again on the same port with its keys', async () => {
    const blob = await encrypt('kept');
    const url = sim.url;
    await sim.stop();
    const once = client({ maxAttempts: 1 });
    await expect(once.send(new DescribeKeyCommand({ KeyId: keyArn }))).rejects.toMatchObject({
      code: 'ECONNREFUSED',
    });
    await sim.start();
    expect(sim.url).toBe(url);
    expect(await decrypt(blob)).toBe('kept');
    once.destroy();
  });
});

describe('wire', () => {
  it('answers an unknown operation with a typed error, in the body and the header', async () => {
    const response = await fetch(sim.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': 'TrentService.ScheduleKeyDeletion',
      },
      body: '{}',
    });
    expect(response.status).toBe(400);
    expect(response.headers.get('x-amzn-errortype')).toBe('UnknownOperationException');
    expect(await response.json()).toMatchObject({ __type: 'UnknownOperationException' });
  });

  it('refuses a body that is not JSON, and blobs that are not base64', async () => {
    const post = (body: string) =>
      fetch(sim.url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'TrentService.Decrypt' },
        body,
      }).then(async (response) => ({ status: response.status, body: await response.json() }));
    expect(await post('{')).toMatchObject({ status: 400, body: { __type: 'SerializationException' } });
    expect(await post('{"CiphertextBlob":"not base64!"}')).toMatchObject({
      status: 400,
      body: { __type: 'ValidationException' },
    });
  });
});
