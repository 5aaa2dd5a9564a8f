import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalKeyProvider, KeyProviderError, type KeyProvider } from '../../index.js';

const context = { tenant: 'tenant-1', purpose: 'tenant-key' };
let dir: string;
let count = 0;
/** A key file path of its own for each test, in a directory that does not exist yet. */
const freshPath = () => join(dir, `case-${++count}`, 'keys', 'master.key');

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'envelope-local-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function refusal(promise: Promise<unknown>): Promise<KeyProviderError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(KeyProviderError);
  return error as KeyProviderError;
}

describe('local key file', () => {
  it('is created with mode 0600, in a directory created with mode 0700', async () => {
    const path = freshPath();
    const provider = await createLocalKeyProvider({ keyFile: path });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await stat(join(path, '..'))).mode & 0o777).toBe(0o700);
    const file = JSON.parse(await readFile(path, 'utf8')) as {
      format: number;
      current: string;
      keys: object;
    };
    expect(file.format).toBe(1);
    expect(provider.currentKeyRef()).toBe(`local:${file.current}`);
    expect(Object.keys(file.keys)).toEqual([file.current]);
  });

  it('is refused, and left as it is, when group or others may read it', async () => {
    const path = freshPath();
    await createLocalKeyProvider({ keyFile: path });
    for (const mode of [0o644, 0o640, 0o604, 0o620]) {
      await chmod(path, mode);
      const error = await refusal(createLocalKeyProvider({ keyFile: path }));
      expect(error.kind).toBe('config');
      expect(error.message).toContain(path);
      expect(error.message).toContain(`chmod 600 ${path}`);
      expect((await stat(path)).mode & 0o777).toBe(mode);
    }
    await chmod(path, 0o400);
    await expect(createLocalKeyProvider({ keyFile: path })).resolves.toBeDefined();
  });

  it('is refused when malformed, without quoting its keys', async () => {
    const path = freshPath();
    await createLocalKeyProvider({ keyFile: path });
    const text = await readFile(path, 'utf8');
    const file = JSON.parse(text) as { current: string; keys: Record<string, string> };
    const key = file.keys[file.current]!;
    const cases = [
      'not json',
      JSON.stringify({ ...file, format: 2 }),
      JSON.stringify({ ...file, current: 'other' }),
      JSON.stringify({ ...file, keys: { [file.current]: key.slice(1) } }),
      JSON.stringify({ ...file, keys: { [file.current]: key, 'bad id': key } }),
    ];
    for (const content of cases) {
      await writeFile(path, content, { mode: 0o600 });
      const error = await refusal(createLocalKeyProvider({ keyFile: path }));
      expect(error.kind).toBe('config');
      expect(error.message).toContain(path);
      expect(error.message).not.toContain(key.slice(1, 20));
    }
  });

  it('is created once when two processes start together', async () => {
    const path = freshPath();
    const [a, b] = await Promise.all([
      createLocalKeyProvider({ keyFile: path }),
      createLocalKeyProvider({ keyFile: path }),
    ]);
    expect(a.currentKeyRef()).toBe(b.currentKeyRef());
    const { wrapped } = await a.generateDataKey(context);
    await expect(b.unwrap(wrapped, context)).resolves.toHaveLength(32);
  });
});

describe('local key provider', () => {
  let path: string;
  let provider: KeyProvider;

  beforeAll(async () => {
    path = freshPath();
    provider = await createLocalKeyProvider({ keyFile: path });
  });

  it('wraps 32-byte data keys that unwrap in their own context only', async () => {
    const { plaintext, wrapped } = await provider.generateDataKey(context);
    expect(provider.kind).toBe('local');
    expect(plaintext).toHaveLength(32);
    expect(wrapped.keyRef).toBe(provider.currentKeyRef());
    expect(wrapped.wrapped.includes(plaintext)).toBe(false);
    expect(await provider.unwrap(wrapped, context)).toEqual(plaintext);
    for (const other of [
      { tenant: 'tenant-2', purpose: 'tenant-key' },
      { tenant: 'tenant-1', purpose: 'other' },
    ]) {
      expect((await refusal(provider.unwrap(wrapped, other))).kind).toBe('invalid-ciphertext');
    }
    const tampered = Buffer.from(wrapped.wrapped);
    tampered[20]! ^= 1;
    expect((await refusal(provider.unwrap({ ...wrapped, wrapped: tampered }, context))).kind).toBe(
      'invalid-ciphertext',
    );
  });

  it('refuses keys it did not wrap, and incomplete contexts', async () => {
    const { wrapped } = await provider.generateDataKey(context);
    const kms = { ...wrapped, keyRef: 'arn:aws:kms:us-east-1:111122223333:key/x' };
    expect((await refusal(provider.unwrap(kms, context))).kind).toBe('config');
    expect((await refusal(provider.unwrap({ ...wrapped, keyRef: 'local:unknown' }, context))).kind).toBe(
      'config',
    );
    expect((await refusal(provider.generateDataKey({ tenant: '', purpose: 'x' }))).kind).toBe('config');
  });

  it('rotates: new wraps use the new key, old wraps still unwrap, rewrap moves them', async () => {
    const before = provider.currentKeyRef();
    const old = await provider.generateDataKey(context);
    const ref = await provider.rotate();
    expect(ref).not.toBe(before);
    expect(provider.currentKeyRef()).toBe(ref);
    expect((await provider.generateDataKey(context)).wrapped.keyRef).toBe(ref);
    expect(await provider.unwrap(old.wrapped, context)).toEqual(old.plaintext);

    const moved = await provider.rewrap(old.wrapped, context);
    expect(moved.keyRef).toBe(ref);
    expect(await provider.unwrap(moved, context)).toEqual(old.plaintext);
    expect((await refusal(provider.rewrap(old.wrapped, { ...context, tenant: 'tenant-2' }))).kind).toBe(
      'invalid-ciphertext',
    );

    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(await readdir(join(path, '..'))).toEqual(['master.key']);
    const file = JSON.parse(await readFile(path, 'utf8')) as { current: string; keys: object };
    expect(`local:${file.current}`).toBe(ref);
    expect(Object.keys(file.keys)).toHaveLength(2);
  });

  it('serializes concurrent rotations, losing no key', async () => {
    const refs = await Promise.all([provider.rotate(), provider.rotate(), provider.rotate()]);
    expect(new Set(refs).size).toBe(3);
    const file = JSON.parse(await readFile(path, 'utf8')) as { keys: object };
    expect(Object.keys(file.keys)).toHaveLength(5);
  });

  it('unwraps after a restart, and learns keys another process added', async () => {
    const other = await createLocalKeyProvider({ keyFile: path });
    await other.rotate();
    const { plaintext, wrapped } = await other.generateDataKey(context);
    expect(await provider.unwrap(wrapped, context)).toEqual(plaintext);
    const restarted = await createLocalKeyProvider({ keyFile: path });
    expect(restarted.currentKeyRef()).toBe(other.currentKeyRef());
    expect(await restarted.unwrap(wrapped, context)).toEqual(plaintext);
  });
});
