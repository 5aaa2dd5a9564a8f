import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DecryptCommand, DescribeKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { startKmsSim, type KmsSim } from '@fleet/kms-sim';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  createAwsKmsKeyProvider,
  KeyProviderError,
  type AwsKmsKeyProviderOptions,
  type KeyProvider,
} from '../../index.js';

const context = { tenant: 'tenant-1', purpose: 'tenant-key' };
const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };
let sim: KmsSim;
let keyArn: string;
let provider: KeyProvider;

function kmsProvider(options: Partial<AwsKmsKeyProviderOptions> = {}): KeyProvider {
  return createAwsKmsKeyProvider({
    endpoint: sim.url,
    region: 'us-east-1',
    keyId: keyArn,
    credentials,
    requestTimeoutMs: 1_000,
    ...options,
  });
}

async function refusal(promise: Promise<unknown>): Promise<KeyProviderError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(KeyProviderError);
  return error as KeyProviderError;
}

beforeAll(async () => {
  sim = await startKmsSim();
  keyArn = sim.createKey();
  provider = kmsProvider();
});
afterEach(() => sim.faults.clear());
afterAll(() => sim.stop());

describe('aws-kms key provider', () => {
  it('generates data keys at KMS and unwraps them, bound to their context', async () => {
    sim.resetCalls();
    const { plaintext, wrapped } = await provider.generateDataKey(context);
    expect(provider.kind).toBe('aws-kms');
    expect(plaintext).toHaveLength(32);
    expect(wrapped.keyRef).toBe(keyArn);
    expect(provider.currentKeyRef()).toBe(keyArn);
    expect(await provider.unwrap(wrapped, context)).toEqual(plaintext);
    expect(sim.calls()).toEqual({ GenerateDataKey: 1, Decrypt: 1 });
  });

  it('refuses to unwrap in another context, or a tampered key', async () => {
    const { wrapped } = await provider.generateDataKey(context);
    for (const other of [
      { tenant: 'tenant-2', purpose: 'tenant-key' },
      { tenant: 'tenant-1', purpose: 'other' },
    ]) {
      expect((await refusal(provider.unwrap(wrapped, other))).kind).toBe('invalid-ciphertext');
    }
    const tampered = Buffer.from(wrapped.wrapped);
    tampered[tampered.length - 1]! ^= 1;
    expect((await refusal(provider.unwrap({ ...wrapped, wrapped: tampered }, context))).kind).toBe(
      'invalid-ciphertext',
    );
    const elsewhere = { ...wrapped, keyRef: sim.createKey() };
    expect((await refusal(provider.unwrap(elsewhere, context))).kind).toBe('invalid-ciphertext');
  });

  it('refuses keys another provider wrapped, and keys KMS does not hold', async () => {
    const { wrapped } = await provider.generateDataKey(context);
    expect((await refusal(provider.unwrap({ ...wrapped, keyRef: 'local:abc' }, context))).kind).toBe(
      'config',
    );
    const unknown = kmsProvider({
      keyId: 'arn:aws:kms:us-east-1:111122223333:key/00000000-0000-4000-8000-000000000000',
    });
    expect((await refusal(unknown.generateDataKey(context))).kind).toBe('denied');
  });

  it("reports a disabled key as 'disabled', and works again once it is enabled", async () => {
    const { plaintext, wrapped } = await provider.generateDataKey(context);
    sim.disableKey(keyArn);
    try {
      expect((await refusal(provider.generateDataKey(context))).kind).toBe('disabled');
      expect((await refusal(provider.unwrap(wrapped, context))).kind).toBe('disabled');
    } finally {
      sim.enableKey(keyArn);
    }
    expect(await provider.unwrap(wrapped, context)).toEqual(plaintext);
  });

  it("reports throttling as 'throttled' after the retries allowed", async () => {
    sim.faults.throttle('always');
    sim.resetCalls();
    const error = await refusal(kmsProvider({ maxAttempts: 2 }).generateDataKey(context));
    expect(error.kind).toBe('throttled');
    expect(error.message).toContain('ThrottlingException');
    expect(sim.calls()).toEqual({ GenerateDataKey: 2 });
  });

  it('rides out brief throttling with its retries', async () => {
    sim.faults.throttle(1);
    await expect(provider.generateDataKey(context)).resolves.toBeDefined();
  });

  it("reports KMS down as 'unavailable', at once", async () => {
    const { wrapped } = await provider.generateDataKey(context);
    await sim.stop();
    try {
      const started = Date.now();
      const error = await refusal(provider.unwrap(wrapped, context));
      expect(error.kind).toBe('unavailable');
      expect(error.message).toContain('ECONNREFUSED');
      expect(Date.now() - started).toBeLessThan(1_000);
    } finally {
      await sim.start();
    }
    await expect(provider.unwrap(wrapped, context)).resolves.toHaveLength(32);
  });

  it("gives up on a KMS that does not answer within the timeout, as 'unavailable'", async () => {
    sim.faults.latency(3_000);
    const started = Date.now();
    const error = await refusal(
      kmsProvider({ requestTimeoutMs: 200, maxAttempts: 1 }).generateDataKey(context),
    );
    expect(error.kind).toBe('unavailable');
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('rewraps under the newest key material after KMS rotates it, the data key unchanged', async () => {
    const { plaintext, wrapped } = await provider.generateDataKey(context);
    sim.rotateKey(keyArn);
    sim.resetCalls();
    const moved = await provider.rewrap(wrapped, context);
    expect(sim.calls()).toEqual({ ReEncrypt: 1 });
    expect(moved.keyRef).toBe(keyArn);
    expect(moved.wrapped.equals(wrapped.wrapped)).toBe(false);
    expect(await provider.unwrap(moved, context)).toEqual(plaintext);
    expect(await provider.unwrap(wrapped, context)).toEqual(plaintext);

    const kms = new KMSClient({ endpoint: sim.url, region: 'us-east-1', credentials });
    const materialOf = async (blob: Buffer) =>
      (await kms.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: { ...context } })))
        .KeyMaterialId;
    const current = (await kms.send(new DescribeKeyCommand({ KeyId: keyArn }))).KeyMetadata!
      .CurrentKeyMaterialId;
    expect(await materialOf(moved.wrapped)).toBe(current);
    expect(await materialOf(wrapped.wrapped)).not.toBe(current);
    kms.destroy();
  });

  it('rewraps to the key it is configured with, from whichever key wrapped before', async () => {
    const { plaintext, wrapped } = await provider.generateDataKey(context);
    const newKey = sim.createKey();
    const moved = await kmsProvider({ keyId: newKey }).rewrap(wrapped, context);
    expect(moved.keyRef).toBe(newKey);
    expect(await provider.unwrap(moved, context)).toEqual(plaintext);
  });

  it('names its key by ARN once KMS has, when configured by key id', async () => {
    const byId = kmsProvider({ keyId: keyArn.split('/')[1] });
    expect(byId.currentKeyRef()).toBe(keyArn.split('/')[1]);
    expect(await byId.rotate()).toBe(keyArn);
    expect(byId.currentKeyRef()).toBe(keyArn);
    expect(await provider.rotate()).toBe(keyArn);
  });

  it('refuses to start without credentials, key, or a safe endpoint', () => {
    const kindOf = (options: Partial<AwsKmsKeyProviderOptions>) => {
      try {
        kmsProvider(options);
      } catch (error) {
        return (error as KeyProviderError).kind;
      }
      return 'started';
    };
    expect(kindOf({ credentials: undefined })).toBe('config');
    expect(kindOf({ credentials: { accessKeyId: 'a', secretAccessKey: '' } })).toBe('config');
    expect(kindOf({ keyId: '' })).toBe('config');
    expect(kindOf({ endpoint: 'http://kms.internal.example:4566' })).toBe('config');
    expect(kindOf({ endpoint: 'not a url' })).toBe('config');
    expect(kindOf({ endpoint: 'https://kms.internal.example' })).toBe('started');
    expect(kindOf({ endpoint: 'http://localhost:4566' })).toBe('started');
  });
});

describe('aws-kms key provider reach', () => {
  let trap: Server;
  let trapped: string[];
  const saved = { ...process.env };

  beforeAll(async () => {
    trapped = [];
    trap = createServer((req, res) => {
      trapped.push(`${req.method} ${req.url}`);
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => trap.listen(0, '127.0.0.1', resolve));
    const trapUrl = `http://127.0.0.1:${(trap.address() as AddressInfo).port}`;
    // Settings that send an SDK left to its defaults to the EC2 metadata host, here a trap.
    process.env.AWS_DEFAULTS_MODE = 'auto';
    process.env.AWS_EC2_METADATA_SERVICE_ENDPOINT = trapUrl;
    process.env.AWS_CONTAINER_CREDENTIALS_FULL_URI = `${trapUrl}/credentials`;
    delete process.env.AWS_EXECUTION_ENV;
    delete process.env.AWS_EC2_METADATA_DISABLED;
  });
  afterAll(async () => {
    process.env = saved;
    await new Promise<void>((resolve) => trap.close(() => resolve()));
  });

  it('reaches the metadata host with an SDK client left to its defaults (the trap works)', async () => {
    const kms = new KMSClient({ endpoint: sim.url, region: 'us-east-1', credentials });
    await kms.send(new DescribeKeyCommand({ KeyId: keyArn }));
    kms.destroy();
    expect(trapped.length).toBeGreaterThan(0);
  });

  it('reaches nothing but its endpoint', async () => {
    trapped.length = 0;
    const fresh = kmsProvider();
    const { wrapped } = await fresh.generateDataKey(context);
    await fresh.unwrap(wrapped, context);
    await fresh.rewrap(wrapped, context);
    expect(trapped).toEqual([]);
  });
});
