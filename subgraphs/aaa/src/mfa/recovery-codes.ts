import { createHmac, randomInt, timingSafeEqual } from 'node:crypto';

/** Lower-case letters and digits without the look-alikes 0/o and 1/l: 32 symbols, 5 bits each. */
const ALPHABET = 'abcdefghijkmnpqrstuvwxyz23456789';
const GROUPS = 3;
const GROUP_LENGTH = 4;

/**
 * Single-use codes for when the authenticator is lost, like `ab3d-9fk2-x7qp`: 12 symbols of 5
 * bits, 60 bits each, far beyond what can be guessed online.
 */
export function generateRecoveryCodes(count = 10): string[] {
  const codes = new Set<string>();
  while (codes.size < count) codes.add(newCode());
  return [...codes];
}

function newCode(): string {
  const groups = Array.from({ length: GROUPS }, () =>
    Array.from({ length: GROUP_LENGTH }, () => ALPHABET[randomInt(ALPHABET.length)]).join(''),
  );
  return groups.join('-');
}

/** What is stored of a recovery code: its keyed digest, of the normalised code. */
export function recoveryCodeDigest(key: Buffer, code: string): string {
  return createHmac('sha256', key).update(normalize(code), 'utf8').digest('hex');
}

/**
 * Which of the stored digests the code matches, or -1. Every digest is compared, each in
 * constant time, so the time taken tells nothing about which one matched.
 */
export function matchRecoveryCode(key: Buffer, code: string, digests: readonly string[]): number {
  const candidate = Buffer.from(recoveryCodeDigest(key, code), 'hex');
  let found = -1;
  digests.forEach((digest, index) => {
    const stored = Buffer.from(digest, 'hex');
    if (stored.length === candidate.length && timingSafeEqual(stored, candidate) && found === -1)
      found = index;
  });
  return found;
}

/** Case, hyphens and spaces do not matter: people type codes as they please. */
function normalize(code: string): string {
  return code.toLowerCase().replace(/[-\s]/g, '');
}
