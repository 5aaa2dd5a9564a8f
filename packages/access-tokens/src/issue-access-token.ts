import { randomUUID } from 'node:crypto';
import { EncryptJWT } from 'jose';
import { SCOPE_TOKEN, type AccessTokenSubject } from './access-token-claims.js';
import type { TokenKeyRing } from './key-ring.js';
import {
  CONTENT_ENCRYPTION_ALGORITHM,
  KEY_MANAGEMENT_ALGORITHM,
  MAX_TOKEN_LIFETIME_SECONDS,
  TOKEN_AUDIENCE,
  TOKEN_ISSUER,
  TOKEN_TYPE,
} from './token-format.js';

export interface IssueOptions {
  /** Lifetime in whole seconds: at most (and by default) 900. */
  ttlSeconds?: number;
  now?: Date;
}

export interface IssuedAccessToken {
  token: string;
  tokenId: string;
  expiresAt: Date;
}

/**
 * Encrypts an access token with the ring's current key: JWE compact, `dir` + `A256GCM`, never
 * compressed (compressing before encrypting leaks the plaintext through its length). The
 * subject is checked here, since a token that would not verify is a bug of the issuer.
 */
export async function issueAccessToken(
  ring: TokenKeyRing,
  subject: AccessTokenSubject,
  options: IssueOptions = {},
): Promise<IssuedAccessToken> {
  const ttl = options.ttlSeconds ?? MAX_TOKEN_LIFETIME_SECONDS;
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_TOKEN_LIFETIME_SECONDS) {
    throw new RangeError(`ttlSeconds must be a whole number from 1 to ${MAX_TOKEN_LIFETIME_SECONDS}`);
  }
  checkSubject(subject);
  const now = options.now ?? new Date();
  const issuedAt = Math.floor(now.getTime() / 1000);
  const expiresAt = issuedAt + ttl;
  const tokenId = randomUUID();
  const token = await new EncryptJWT({
    tid: subject.tenantId,
    roles: [...subject.roles],
    scope: subject.scopes.join(' '),
    sid: subject.sessionId,
  })
    .setProtectedHeader({
      alg: KEY_MANAGEMENT_ALGORITHM,
      enc: CONTENT_ENCRYPTION_ALGORITHM,
      kid: ring.current.kid,
      typ: TOKEN_TYPE,
    })
    .setIssuer(TOKEN_ISSUER)
    .setAudience(TOKEN_AUDIENCE)
    .setSubject(subject.userId)
    .setJti(tokenId)
    .setIssuedAt(issuedAt)
    .setExpirationTime(expiresAt)
    .encrypt(ring.current.key);
  return { token, tokenId, expiresAt: new Date(expiresAt * 1000) };
}

function checkSubject(subject: AccessTokenSubject): void {
  if (!nonEmpty(subject.userId)) throw new TypeError('userId must be a non-empty string');
  if (!nonEmpty(subject.sessionId)) throw new TypeError('sessionId must be a non-empty string');
  if (subject.tenantId !== null && !nonEmpty(subject.tenantId)) {
    throw new TypeError('tenantId must be a non-empty string or null');
  }
  if (!subject.roles.every(nonEmpty)) throw new TypeError('roles must be non-empty strings');
  if (!subject.scopes.every((scope) => typeof scope === 'string' && SCOPE_TOKEN.test(scope))) {
    throw new TypeError('scopes must be OAuth scope tokens (printable, no spaces)');
  }
}

function nonEmpty(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0;
}
