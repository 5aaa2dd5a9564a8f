import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import * as argon2 from 'argon2';
import { BadUserInputError } from '@fleet/service-kit';
import { ConcurrencyLimit } from './limit-concurrency.js';

/** Longer passwords are refused before any hashing: nobody needs more, and they cost work. */
export const MAX_PASSWORD_BYTES = 1024;

export interface PasswordHasherOptions {
  /** Memory per hash, in KiB. */
  memoryCost?: number;
  /** Passes over the memory. */
  timeCost?: number;
  parallelism?: number;
  /** Hashes and verifications run at once; the rest wait their turn. */
  maxConcurrent?: number;
}

/**
 * OWASP's minimum for argon2id (Password Storage Cheat Sheet): 19 MiB, two passes, one lane.
 * Configuration may raise them; stored hashes then report that they need rehashing.
 */
export const ARGON2_DEFAULTS = { memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

/**
 * Hashes passwords with argon2id into PHC strings and checks them.
 *
 * Passwords are compared in Unicode normal form NFKC, so the same password typed on another
 * keyboard or platform still matches. At most `maxConcurrent` hashes run at once, so a burst of
 * logins queues instead of taking all the memory of the process.
 */
export class PasswordHasher {
  readonly #params: {
    type: typeof argon2.argon2id;
    memoryCost: number;
    timeCost: number;
    parallelism: number;
  };
  readonly #limit: ConcurrencyLimit;
  /** A hash of nothing anyone knows, made with the current parameters when the hasher starts. */
  readonly #nothing: Promise<string>;

  constructor(options: PasswordHasherOptions = {}) {
    this.#params = {
      type: argon2.argon2id,
      memoryCost: options.memoryCost ?? ARGON2_DEFAULTS.memoryCost,
      timeCost: options.timeCost ?? ARGON2_DEFAULTS.timeCost,
      parallelism: options.parallelism ?? ARGON2_DEFAULTS.parallelism,
    };
    this.#limit = new ConcurrencyLimit(options.maxConcurrent ?? availableParallelism());
    this.#nothing = this.#limit.run(() => argon2.hash(randomBytes(32).toString('base64url'), this.#params));
    // Marks the rejection as handled here; verifyAgainstNothing still sees it when awaiting.
    this.#nothing.catch(() => undefined);
  }

  /** Hashes and verifications running now. */
  get inFlight(): number {
    return this.#limit.inFlight;
  }

  /** The most hashes and verifications that ever ran at once. */
  get peakInFlight(): number {
    return this.#limit.peakInFlight;
  }

  /** The PHC string of a new password, e.g. `$argon2id$v=19$m=19456,p=1,t=2$…`. */
  async hash(password: string): Promise<string> {
    if (tooLong(password)) throw new BadUserInputError('password is too long', 'password');
    return this.#limit.run(() => argon2.hash(password.normalize('NFKC'), this.#params));
  }

  /**
   * Checks a password against its stored hash. `needsRehash` says, after a match, that the hash
   * was made with other parameters than the current ones: store a new one while the password is
   * at hand.
   */
  async verify(hash: string, password: string): Promise<{ ok: boolean; needsRehash: boolean }> {
    // No password that long was ever hashed, so it cannot match.
    if (tooLong(password)) return { ok: false, needsRehash: false };
    const ok = await this.#limit.run(() => argon2.verify(hash, password.normalize('NFKC')));
    return { ok, needsRehash: ok && this.#needsRehash(hash) };
  }

  /**
   * Spends the time of a wrong password on an account that does not exist, so the answer time
   * does not tell which accounts exist.
   */
  async verifyAgainstNothing(password: string): Promise<false> {
    if (tooLong(password)) return false;
    const nothing = await this.#nothing;
    await this.#limit.run(() => argon2.verify(nothing, password.normalize('NFKC')));
    return false;
  }

  #needsRehash(hash: string): boolean {
    const { memoryCost, timeCost, parallelism } = this.#params;
    return !hash.startsWith('$argon2id$') || argon2.needsRehash(hash, { memoryCost, timeCost, parallelism });
  }
}

function tooLong(password: string): boolean {
  return Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES;
}
