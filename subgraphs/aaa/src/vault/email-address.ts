/**
 * Email addresses as aaa accepts them. Validation is deliberately plain: one @, a dot in the
 * domain, no spaces or control characters, at most 254 characters. Delivery is the real check.
 */
const EMAIL = /^[^\s@\p{Cc}]{1,64}@[^\s@\p{Cc}]+\.[^\s@\p{Cc}]+$/u;

export function isEmailAddress(value: string): boolean {
  return value.length <= 254 && EMAIL.test(value.trim());
}

/** The form the blind index is computed over: NFKC, trimmed, lower case. */
export function normalizeEmail(value: string): string {
  return value.normalize('NFKC').trim().toLowerCase();
}
