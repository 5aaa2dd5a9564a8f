import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { commonPasswordListPath, passwordProblem } from './password-policy.js';

const context = { email: 'Johnny.Smith@example.com', tenantSlug: 'acme-corp' };

/** Checks the password is refused, for the given reason, without the message repeating it. */
function expectRefused(
  password: string,
  reason: RegExp,
  ctx: Parameters<typeof passwordProblem>[1] = context,
) {
  const problem = passwordProblem(password, ctx);
  expect(problem).toMatch(reason);
  expect(problem).not.toContain(password);
}

describe('password policy', () => {
  it('accepts a long, uncommon password', () => {
    expect(passwordProblem('plum kettle orbit 77', context)).toBeUndefined();
    expect(passwordProblem('twelve chars', {})).toBeUndefined();
  });

  it('counts characters, not bytes or UTF-16 units, after normalisation', () => {
    expectRefused('eleven char', /at least 12/);
    // Eleven emoji are 22 UTF-16 units but 11 characters.
    expectRefused('😀🙂😀🙂😀🙂😀🙂😀🙂😀', /at least 12/);
    expect(passwordProblem('😀🙂😀🙂😀🙂😀🙂😀🙂😀🙂', {})).toBeUndefined();
    expect(passwordProblem('x'.repeat(255) + 'y', {})).toBeUndefined();
    expectRefused('x'.repeat(256) + 'y', /at most 256/);
  });

  it('refuses a single repeated character', () => {
    expectRefused('a'.repeat(20), /single character/);
    expectRefused('😀'.repeat(12), /single character/);
  });

  it('refuses a password of the common list, in any case or width', () => {
    const list = readFileSync(commonPasswordListPath(), 'utf8').split('\n');
    const known = list.find(
      (entry) => entry.length >= 12 && /^[a-z0-9]+$/.test(entry) && new Set(entry).size > 1,
    )!;
    expect(known).toBeDefined();
    expectRefused(known, /most common/);
    expectRefused(known.toUpperCase(), /most common/);
    // Full-width forms normalise to ASCII.
    const fullWidth = [...known].map((c) => String.fromCodePoint(c.codePointAt(0)! + 0xfee0)).join('');
    expectRefused(fullWidth, /most common/);
    expect(passwordProblem(`${known} plum kettle`, {})).toBeUndefined();
  });

  it("refuses the email's local part and the tenant slug, in any case", () => {
    expectRefused('my JOHNNY.SMITH password', /email/);
    expectRefused('the Acme-Corp password', /identifier/);
    expect(passwordProblem('my johnny smith password', context)).toBeUndefined();
  });

  it('allows short local parts and slugs, which are too common to forbid', () => {
    expect(
      passwordProblem('abc abc abc abc', { email: 'abc@example.com', tenantSlug: 'abc' }),
    ).toBeUndefined();
    expectRefused('abcd abcd abcd', /email/, { email: 'abcd@example.com' });
  });
});
