import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateRecoveryCodes, matchRecoveryCode, recoveryCodeDigest } from './recovery-codes.js';

const key = randomBytes(32);

describe('recovery codes', () => {
  it('are three groups of four unambiguous characters, ten by default, all different', () => {
    const codes = generateRecoveryCodes();
    expect(codes).toHaveLength(10);
    for (const code of codes) expect(code).toMatch(/^[a-km-np-z2-9]{4}-[a-km-np-z2-9]{4}-[a-km-np-z2-9]{4}$/);
    expect(new Set(generateRecoveryCodes(500)).size).toBe(500);
    expect(generateRecoveryCodes(3)).toHaveLength(3);
  });

  it('use the whole alphabet', () => {
    const symbols = new Set(generateRecoveryCodes(200).join('').replaceAll('-', ''));
    expect(symbols.size).toBe(32);
    for (const lookAlike of ['0', 'o', '1', 'l']) expect(symbols.has(lookAlike)).toBe(false);
  });

  it('are stored as keyed digests of the normalised code', () => {
    const digest = recoveryCodeDigest(key, 'ab3d-9fk2-x7qp');
    expect(digest).toMatch(/^[0-9a-f]{64}$/);
    expect(digest).not.toContain('ab3d');
    expect(recoveryCodeDigest(key, ' AB3D 9FK2-X7QP ')).toBe(digest);
    expect(recoveryCodeDigest(key, 'ab3d9fk2x7qp')).toBe(digest);
    expect(recoveryCodeDigest(randomBytes(32), 'ab3d-9fk2-x7qp')).not.toBe(digest);
  });

  it('match the index of their digest, or -1', () => {
    const codes = generateRecoveryCodes();
    const digests = codes.map((code) => recoveryCodeDigest(key, code));
    expect(matchRecoveryCode(key, codes[7]!, digests)).toBe(7);
    expect(matchRecoveryCode(key, codes[0]!.toUpperCase().replaceAll('-', ' '), digests)).toBe(0);
    expect(matchRecoveryCode(key, 'aaaa-bbbb-cccc', digests)).toBe(-1);
    expect(matchRecoveryCode(key, '', digests)).toBe(-1);
    expect(matchRecoveryCode(key, codes[0]!, [])).toBe(-1);
    expect(matchRecoveryCode(randomBytes(32), codes[3]!, digests)).toBe(-1);
  });
});
