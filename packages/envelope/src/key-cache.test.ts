import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { KeyCache } from './index.js';

/** A loader that counts its calls and keeps every buffer it handed out. */
function loader() {
  const loaded: Buffer[] = [];
  const load = () => {
    const key = randomBytes(32);
    loaded.push(key);
    return Promise.resolve(key);
  };
  return { load, loaded };
}

const zeroed = (key: Buffer) => key.equals(Buffer.alloc(key.length));

function deferred() {
  let resolve!: (key: Buffer) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<Buffer>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('key cache', () => {
  it('loads once and answers from memory after, each caller with its own copy', async () => {
    const cache = new KeyCache({ maxEntries: 10, ttlMs: 1_000 });
    const { load, loaded } = loader();
    const first = await cache.get('a', load);
    const second = await cache.get('a', load);
    expect(loaded).toHaveLength(1);
    expect(first).toEqual(loaded[0]);
    expect(second).toEqual(loaded[0]);
    first.fill(0);
    expect(await cache.get('a', load)).toEqual(loaded[0]);
    expect(cache.stats).toEqual({ hits: 2, misses: 1 });
  });

  it('loads again once the TTL has passed, and zero-fills the expired key', async () => {
    let now = 0;
    const cache = new KeyCache({ maxEntries: 10, ttlMs: 1_000, now: () => now });
    const { load, loaded } = loader();
    await cache.get('a', load);
    now = 999;
    await cache.get('a', load);
    expect(loaded).toHaveLength(1);
    now = 1_000;
    const fresh = await cache.get('a', load);
    expect(loaded).toHaveLength(2);
    expect(zeroed(loaded[0]!)).toBe(true);
    expect(fresh).toEqual(loaded[1]);
  });

  it('holds at most maxEntries keys, dropping and zero-filling the oldest', async () => {
    const cache = new KeyCache({ maxEntries: 2, ttlMs: 60_000 });
    const { load, loaded } = loader();
    const a = await cache.get('a', load);
    await cache.get('b', load);
    await cache.get('c', load);
    expect(cache.size).toBe(2);
    expect(zeroed(loaded[0]!)).toBe(true);
    expect(zeroed(a)).toBe(false);
    expect(zeroed(loaded[1]!) || zeroed(loaded[2]!)).toBe(false);
    await cache.get('a', load);
    expect(loaded).toHaveLength(4);
  });

  it('shares one load among concurrent callers of one id', async () => {
    const cache = new KeyCache({ maxEntries: 10, ttlMs: 1_000 });
    const pending = deferred();
    let calls = 0;
    const load = () => {
      calls++;
      return pending.promise;
    };
    const answers = Promise.all(Array.from({ length: 5 }, () => cache.get('a', load)));
    const key = randomBytes(32);
    pending.resolve(key);
    const keys = await answers;
    expect(calls).toBe(1);
    expect(keys.every((k) => k.equals(key))).toBe(true);
    expect(new Set(keys).size).toBe(5);
    expect(cache.stats).toEqual({ hits: 4, misses: 1 });
  });

  it('does not cache a failed load: its callers all fail, the next call loads again', async () => {
    const cache = new KeyCache({ maxEntries: 10, ttlMs: 1_000 });
    const pending = deferred();
    const failing = Promise.all([
      cache.get('a', () => pending.promise),
      cache.get('a', () => pending.promise),
    ]);
    pending.reject(new Error('KMS is down'));
    await expect(failing).rejects.toThrow('KMS is down');
    const { load, loaded } = loader();
    expect(await cache.get('a', load)).toEqual(loaded[0]);
    await expect(cache.get('b', () => Promise.resolve('not a key' as unknown as Buffer))).rejects.toThrow(
      TypeError,
    );
    expect(cache.size).toBe(1);
  });

  it('zero-fills on delete and clear, and leaves callers their copies', async () => {
    const cache = new KeyCache({ maxEntries: 10, ttlMs: 1_000 });
    const { load, loaded } = loader();
    const a = await cache.get('a', load);
    await cache.get('b', load);
    cache.delete('a');
    expect(zeroed(loaded[0]!)).toBe(true);
    expect(zeroed(a)).toBe(false);
    expect(zeroed(loaded[1]!)).toBe(false);
    cache.clear();
    expect(zeroed(loaded[1]!)).toBe(true);
    expect(cache.size).toBe(0);
  });

  it('keeps out of the cache a key deleted while it loads, still answering its callers', async () => {
    const cache = new KeyCache({ maxEntries: 10, ttlMs: 1_000 });
    const pending = deferred();
    const answer = cache.get('a', () => pending.promise);
    cache.delete('a');
    const key = randomBytes(32);
    const expected = Buffer.from(key);
    pending.resolve(key);
    expect(await answer).toEqual(expected);
    expect(cache.size).toBe(0);
    expect(zeroed(key)).toBe(true);
  });
});
