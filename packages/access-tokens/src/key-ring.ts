import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';

/** Bytes of every token key: AES-256-GCM with `dir` needs exactly 256 bits. */
export const TOKEN_KEY_BYTES = 32;

/** Most keys a ring holds: the current one and a few being retired. */
export const MAX_RING_KEYS = 16;

const KID = /^[A-Za-z0-9._-]{1,32}$/;
const KEY_TEXT = /^[A-Za-z0-9_-]{43}$/;

export interface TokenKey {
  /** The key id, written in the `kid` header of every token encrypted with it. */
  readonly kid: string;
  readonly key: Uint8Array;
}

/**
 * The keys of access tokens. New tokens are encrypted with `current`; a token is decrypted with
 * the key its `kid` names, from `keys` (which holds `current` too). Rotation: put a new key
 * first, keep the old one after it for at least one token lifetime, then drop it.
 */
export interface TokenKeyRing {
  readonly current: TokenKey;
  readonly keys: ReadonlyMap<string, Uint8Array>;
}

/**
 * Reads a ring from its configuration text, `kid1:base64url,kid2:base64url`: the first entry is
 * the current key. Errors name the entry by position and never echo its text, which may be key
 * material in the wrong place.
 */
export function parseTokenKeyRing(raw: string): TokenKeyRing | { error: string } {
  const entries = raw.split(',').map((entry) => entry.trim());
  if (entries.length > MAX_RING_KEYS) return { error: `must hold at most ${MAX_RING_KEYS} keys` };
  const keys = new Map<string, Uint8Array>();
  for (const [index, entry] of entries.entries()) {
    const position = `entry ${index + 1}`;
    const colon = entry.indexOf(':');
    if (colon === -1) return { error: `${position}: must be kid:key (kid1:base64url,kid2:base64url)` };
    const kid = entry.slice(0, colon);
    const text = entry.slice(colon + 1);
    if (!KID.test(kid)) {
      return {
        error: `${position}: the key id must be 1 to 32 letters, digits, dots, dashes or underscores`,
      };
    }
    const key = Buffer.from(text, 'base64url');
    if (!KEY_TEXT.test(text) || key.length !== TOKEN_KEY_BYTES || key.toString('base64url') !== text) {
      return { error: `${position}: the key must be ${TOKEN_KEY_BYTES} bytes of unpadded base64url` };
    }
    if (keys.has(kid)) return { error: `${position}: repeats the key id of an earlier entry` };
    keys.set(kid, new Uint8Array(key));
  }
  const [first] = keys;
  if (!first) return { error: 'must hold at least one key' };
  return tokenKeyRingOf({ kid: first[0], key: first[1] }, keys);
}

/** A new ring of one random key, as it is written to configuration. */
export function generateTokenKeyRing(kid = 'k1'): string {
  if (!KID.test(kid))
    throw new RangeError('A key id is 1 to 32 letters, digits, dots, dashes or underscores');
  return `${kid}:${randomBytes(TOKEN_KEY_BYTES).toString('base64url')}`;
}

/**
 * The ring object. It prints and serializes as its key ids only, so a configuration object
 * that ends up in a log line or an error report does not carry the keys with it.
 */
function tokenKeyRingOf(current: TokenKey, keys: ReadonlyMap<string, Uint8Array>): TokenKeyRing {
  const describe = () => ({ current: current.kid, kids: [...keys.keys()] });
  const ring = { current: Object.freeze({ ...current }), keys };
  Object.defineProperties(ring, {
    toJSON: { value: describe, enumerable: false },
    [inspect.custom]: { value: () => `TokenKeyRing ${JSON.stringify(describe())}`, enumerable: false },
  });
  return Object.freeze(ring);
}
