import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { deriveKey } from '@fleet/envelope';

/**
 * Keyed digests of the secrets aaa hands out. Only digests are stored, each under its own
 * subkey of the service's secret key, so a copy of the database alone cannot check a guess, and
 * a digest of one kind is useless as another.
 */
export class SecretDigests {
  readonly #refreshTokens: Buffer;
  readonly #activationCodes: Buffer;
  readonly #throttleKeys: Buffer;
  readonly #apiKeyPepper: Buffer;
  /** The key recovery codes are digested under. */
  readonly recoveryCodeKey: Buffer;

  constructor(secretKey: Buffer, apiKeyPepper: Buffer) {
    this.#refreshTokens = deriveKey(secretKey, 'refresh-token-v1');
    this.#activationCodes = deriveKey(secretKey, 'activation-code-v1');
    this.#throttleKeys = deriveKey(secretKey, 'login-throttle-v1');
    this.recoveryCodeKey = deriveKey(secretKey, 'recovery-code-v1');
    this.#apiKeyPepper = apiKeyPepper;
  }

  refreshToken(token: string): string {
    return hmacHex(this.#refreshTokens, token);
  }

  activationCode(userId: string, code: string): string {
    return hmacHex(this.#activationCodes, `${userId}\n${code.trim()}`);
  }

  /** The key a brute-force counter is kept under: never the raw address or email. */
  throttleKey(kind: 'account' | 'address', value: string): string {
    return hmacHex(this.#throttleKeys, `${kind}\n${value}`);
  }

  apiKey(key: string): string {
    return hmacHex(this.#apiKeyPepper, key);
  }
}

/** A random secret of 256 bits with a prefix that tells what it is: `rt_…`, `fk_…`. */
export function newSecret(prefix: string, bytes = 32): string {
  return `${prefix}${randomBytes(bytes).toString('base64url')}`;
}

/** Compares two hex digests in constant time. */
export function sameDigest(a: string, b: string): boolean {
  const left = Buffer.from(a, 'hex');
  const right = Buffer.from(b, 'hex');
  return left.length === right.length && timingSafeEqual(left, right);
}

function hmacHex(key: Buffer, value: string): string {
  return createHmac('sha256', key).update(value, 'utf8').digest('hex');
}
