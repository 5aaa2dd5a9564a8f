import * as argon2 from 'argon2';
import { describe, expect, it } from 'vitest';
import { MAX_PASSWORD_BYTES, PasswordHasher } from './password-hasher.js';

/** Cheap parameters where the test is not about the cost. */
const CHEAP = { memoryCost: 1024, timeCost: 1 };

describe('password hasher', () => {
  it('hashes with argon2id at the OWASP parameters and verifies the round trip', async () => {
    const hasher = new PasswordHasher();
    const hash = await hasher.hash('correct horse battery staple');
    expect(hash).toMatch(/^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);
    expect(await hasher.verify(hash, 'correct horse battery staple')).toEqual({
      ok: true,
      needsRehash: false,
    });
    expect(await hasher.verify(hash, 'correct horse battery stapler')).toEqual({
      ok: false,
      needsRehash: false,
    });
  });

  it('salts every hash', async () => {
    const hasher = new PasswordHasher(CHEAP);
    expect(await hasher.hash('same password here')).not.toBe(await hasher.hash('same password here'));
  });

  it('matches a password typed in another Unicode form', async () => {
    const hasher = new PasswordHasher(CHEAP);
    const hash = await hasher.hash('caf\u00e9 au lait, sans sucre');
    expect((await hasher.verify(hash, 'cafe\u0301 au lait, sans sucre')).ok).toBe(true);
  });

  it('asks for a rehash when the parameters changed, and only after a match', async () => {
    const old = new PasswordHasher({ memoryCost: 2048, timeCost: 1 });
    const current = new PasswordHasher({ memoryCost: 4096, timeCost: 2 });
    const hash = await old.hash('an old password of mine');
    expect(await current.verify(hash, 'an old password of mine')).toEqual({ ok: true, needsRehash: true });
    expect(await current.verify(hash, 'not the password at all')).toEqual({ ok: false, needsRehash: false });
    expect(await old.verify(hash, 'an old password of mine')).toEqual({ ok: true, needsRehash: false });
  });

  it('asks for a rehash of a hash of another argon2 variant', async () => {
    const hasher = new PasswordHasher(CHEAP);
    const argon2i = await argon2.hash('an argon2i password', {
      ...CHEAP,
      parallelism: 1,
      type: argon2.argon2i,
    });
    expect(await hasher.verify(argon2i, 'an argon2i password')).toEqual({ ok: true, needsRehash: true });
  });

  it('never runs more than maxConcurrent hashes at once', async () => {
    const hasher = new PasswordHasher({ ...CHEAP, maxConcurrent: 3 });
    const hashes = await Promise.all(
      Array.from({ length: 20 }, (_, i) => hasher.hash(`parallel password ${i}`)),
    );
    expect(new Set(hashes).size).toBe(20);
    expect(hasher.peakInFlight).toBe(3);
    expect(hasher.inFlight).toBe(0);
  });

  it('refuses passwords over the byte limit before hashing', async () => {
    const hasher = new PasswordHasher({ ...CHEAP, maxConcurrent: 1 });
    await expect(hasher.hash('a'.repeat(MAX_PASSWORD_BYTES + 1))).rejects.toThrow('password is too long');
    // Counted in bytes: 513 two-byte characters are 1026 bytes.
    await expect(hasher.hash('é'.repeat(513))).rejects.toThrow('password is too long');
    const hash = await hasher.hash('a'.repeat(MAX_PASSWORD_BYTES));
    expect((await hasher.verify(hash, 'a'.repeat(MAX_PASSWORD_BYTES))).ok).toBe(true);
    expect(await hasher.verify(hash, 'a'.repeat(MAX_PASSWORD_BYTES + 1))).toEqual({
      ok: false,
      needsRehash: false,
    });
    expect(await hasher.verifyAgainstNothing('a'.repeat(10_000))).toBe(false);
  });

  it('verifies against nothing with a real verification at the current parameters', async () => {
    const hasher = new PasswordHasher({ ...CHEAP, maxConcurrent: 1 });
    await hasher.hash('warms the hash of nothing up');
    const before = hasher.peakInFlight;
    const running = hasher.verifyAgainstNothing('any password at all');
    await new Promise((resolve) => setImmediate(resolve));
    expect(hasher.inFlight).toBe(1);
    expect(await running).toBe(false);
    expect(hasher.peakInFlight).toBe(before);
  });
});
