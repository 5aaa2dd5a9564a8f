import { generateSecret, generateURI, verifySync } from 'otplib';

/** RFC 6238 as every authenticator app implements it: HMAC-SHA-1, six digits, 30-second steps. */
const PERIOD_SECONDS = 30;
const DIGITS = 6;

/** A code from the step before or after the current one still counts: phones' clocks drift. */
const DRIFT_STEPS = 1;

/** A new shared secret: 160 random bits (RFC 4226's recommendation), in base32 for the apps. */
export function generateTotpSecret(): string {
  return generateSecret({ length: 20 });
}

/** The `otpauth://` URI an authenticator app reads from a QR code. */
export function totpUri(secret: string, options: { issuer: string; account: string }): string {
  return generateURI({
    issuer: options.issuer,
    label: options.account,
    secret,
    algorithm: 'sha1',
    digits: DIGITS,
    period: PERIOD_SECONDS,
  });
}

/**
 * Checks a code against the secret at `now` (milliseconds, default the current time), within one
 * step of drift. A code of a step at or before `lastUsedStep` is refused, so an overheard code
 * cannot be replayed: on success, store the returned step as the new `lastUsedStep`, atomically.
 */
export function verifyTotp(
  secret: string,
  code: string,
  options: { now?: number; lastUsedStep: number | null },
): { ok: true; step: number } | { ok: false } {
  // Apps show codes as "123 456"; anything but six digits is refused before any work.
  const token = code.replace(/\s/g, '');
  if (!/^[0-9]{6}$/.test(token)) return { ok: false };
  const epoch = Math.floor((options.now ?? Date.now()) / 1000);
  const currentStep = Math.floor(epoch / PERIOD_SECONDS);
  const { lastUsedStep } = options;
  // Every step in the window was used already (the library refuses such a window outright).
  if (lastUsedStep !== null && lastUsedStep >= currentStep + DRIFT_STEPS) return { ok: false };
  // The library compares the codes in constant time.
  const result = verifySync({
    secret,
    token,
    algorithm: 'sha1',
    digits: DIGITS,
    period: PERIOD_SECONDS,
    epoch,
    epochTolerance: DRIFT_STEPS * PERIOD_SECONDS,
    ...(lastUsedStep === null ? {} : { afterTimeStep: lastUsedStep }),
  });
  return result.valid ? { ok: true, step: currentStep + result.delta } : { ok: false };
}
