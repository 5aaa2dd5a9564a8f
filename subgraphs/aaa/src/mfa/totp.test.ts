import { generateSync } from 'otplib';
import { describe, expect, it } from 'vitest';
import { generateTotpSecret, totpUri, verifyTotp } from './totp.js';

/** RFC 6238 appendix B's SHA-1 secret, the ASCII "12345678901234567890", in base32. */
const RFC_SECRET = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';

function codeAt(secret: string, seconds: number): string {
  return generateSync({ secret, epoch: seconds });
}

describe('TOTP', () => {
  it('makes 160-bit base32 secrets, different each time', () => {
    const secret = generateTotpSecret();
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(generateTotpSecret()).not.toBe(secret);
  });

  it('writes the URI authenticator apps read', () => {
    const uri = new URL(totpUri(RFC_SECRET, { issuer: 'Fleet', account: 'ada@example.com' }));
    expect(uri.protocol).toBe('otpauth:');
    expect(uri.host).toBe('totp');
    expect(decodeURIComponent(uri.pathname)).toBe('/Fleet:ada@example.com');
    expect(uri.searchParams.get('secret')).toBe(RFC_SECRET);
    expect(uri.searchParams.get('issuer')).toBe('Fleet');
  });

  it('accepts the RFC 6238 test vector', () => {
    // At T = 59 s the 8-digit code is 94287082; the 6-digit code is its last six digits.
    expect(verifyTotp(RFC_SECRET, '287082', { now: 59_000, lastUsedStep: null })).toEqual({
      ok: true,
      step: 1,
    });
    expect(verifyTotp(RFC_SECRET, '287 082 ', { now: 59_000, lastUsedStep: null })).toEqual({
      ok: true,
      step: 1,
    });
    expect(verifyTotp(RFC_SECRET, '287083', { now: 59_000, lastUsedStep: null })).toEqual({ ok: false });
  });

  it('allows one step of drift either way, and no more', () => {
    const secret = generateTotpSecret();
    const now = 1_700_000_000_000;
    const step = Math.floor(now / 30_000);
    const seconds = now / 1000;
    for (const drift of [-1, 0, 1]) {
      expect(verifyTotp(secret, codeAt(secret, seconds + drift * 30), { now, lastUsedStep: null })).toEqual({
        ok: true,
        step: step + drift,
      });
    }
    for (const drift of [-2, 2]) {
      expect(verifyTotp(secret, codeAt(secret, seconds + drift * 30), { now, lastUsedStep: null }).ok).toBe(
        false,
      );
    }
  });

  it('refuses a replayed code, and any code of an earlier step', () => {
    const secret = generateTotpSecret();
    const now = 1_700_000_000_000;
    const code = codeAt(secret, now / 1000);
    const first = verifyTotp(secret, code, { now, lastUsedStep: null });
    expect(first.ok).toBe(true);
    const step = first.ok ? first.step : -1;
    expect(verifyTotp(secret, code, { now, lastUsedStep: step })).toEqual({ ok: false });
    expect(verifyTotp(secret, codeAt(secret, now / 1000 - 30), { now, lastUsedStep: step })).toEqual({
      ok: false,
    });
    // The next step's code is still good, once.
    const next = codeAt(secret, now / 1000 + 30);
    expect(verifyTotp(secret, next, { now, lastUsedStep: step })).toEqual({ ok: true, step: step + 1 });
    // A last step beyond the window (a clock set back) refuses everything rather than failing.
    expect(verifyTotp(secret, next, { now, lastUsedStep: step + 5 })).toEqual({ ok: false });
  });

  it('refuses codes that are not exactly six digits', () => {
    for (const code of ['', '28708', '2870822', '94287082', '28708a', '２８７０８２', '-28708', '28 70 8']) {
      expect(verifyTotp(RFC_SECRET, code, { now: 59_000, lastUsedStep: null })).toEqual({ ok: false });
    }
  });
});
