import { errors, jwtDecrypt, type JWTDecryptOptions, type JWTPayload } from 'jose';
import { SCOPE_TOKEN, type AccessTokenClaims } from './access-token-claims.js';
import { InvalidTokenError } from './invalid-token-error.js';
import type { TokenKeyRing } from './key-ring.js';
import {
  CLOCK_TOLERANCE_SECONDS,
  CONTENT_ENCRYPTION_ALGORITHM,
  HEADER_PARAMETERS,
  KEY_MANAGEMENT_ALGORITHM,
  MAX_TOKEN_LENGTH,
  MAX_TOKEN_LIFETIME_SECONDS,
  TOKEN_AUDIENCE,
  TOKEN_ISSUER,
  TOKEN_TYPE,
} from './token-format.js';

export interface VerifyOptions {
  now?: Date;
}

/**
 * Decrypts and checks an access token, or throws InvalidTokenError.
 *
 * The checks come in layers, cheapest and least trusting first:
 * 1. the length, before anything is parsed;
 * 2. the protected header, decoded by hand: exactly `alg: dir`, `enc: A256GCM`, `typ: at+jwt`
 *    and a `kid` in the ring, nothing else (no `zip`, no `crit`, no key-wrapping parameters);
 * 3. jose, with its own allow-lists set to the same single algorithms and decompression off, so
 *    a header that slipped past step 2 would still be refused;
 * 4. the claims: issuer, audience, every claim present with its type, a lifetime of at most
 *    15 minutes, `iat` not in the future (5 s of tolerance) and `exp` not past.
 *
 * The header is read before it is authenticated, to choose a key; it is authenticated by the
 * decryption (it is the AAD of AES-GCM), and nothing in it is trusted before then.
 */
export async function verifyAccessToken(
  ring: TokenKeyRing,
  token: string,
  options: VerifyOptions = {},
): Promise<AccessTokenClaims> {
  if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH) throw new InvalidTokenError('oversized');
  const parts = token.split('.');
  if (parts.length !== 5) throw new InvalidTokenError('malformed');
  const [encodedHeader, encryptedKey] = parts as [string, string, string, string, string];
  const header = decodeHeader(encodedHeader);
  // `dir` carries no encrypted key: anything there belongs to another algorithm.
  if (!isExpectedHeader(header) || encryptedKey !== '') throw new InvalidTokenError('bad-header');
  const key = ring.keys.get(header.kid);
  if (!key) throw new InvalidTokenError('unknown-key');

  const now = options.now ?? new Date();
  let payload: JWTPayload;
  try {
    const result = await jwtDecrypt(token, key, joseDecryptOptions(now));
    if (!isExpectedHeader(result.protectedHeader) || result.protectedHeader.kid !== header.kid) {
      throw new InvalidTokenError('bad-header');
    }
    payload = result.payload;
  } catch (error) {
    throw error instanceof InvalidTokenError ? error : new InvalidTokenError(reasonOf(error));
  }
  return claimsOf(payload, Math.floor(now.getTime() / 1000));
}

/**
 * jose's own checks, the second layer: alone they refuse every other algorithm, compression, a
 * wrong type, issuer or audience, and an expired token. Exported for the tests that prove it.
 */
export function joseDecryptOptions(now: Date): JWTDecryptOptions {
  return {
    keyManagementAlgorithms: [KEY_MANAGEMENT_ALGORITHM],
    contentEncryptionAlgorithms: [CONTENT_ENCRYPTION_ALGORITHM],
    // 0 makes jose refuse a `zip` header instead of inflating the plaintext.
    maxDecompressedLength: 0,
    issuer: TOKEN_ISSUER,
    audience: TOKEN_AUDIENCE,
    typ: TOKEN_TYPE,
    requiredClaims: ['iss', 'aud', 'sub', 'jti', 'iat', 'exp'],
    currentDate: now,
  };
}

interface ExpectedHeader {
  alg: typeof KEY_MANAGEMENT_ALGORITHM;
  enc: typeof CONTENT_ENCRYPTION_ALGORITHM;
  kid: string;
  typ: typeof TOKEN_TYPE;
}

function decodeHeader(encoded: string): unknown {
  if (!/^[A-Za-z0-9_-]+$/.test(encoded)) throw new InvalidTokenError('malformed');
  try {
    return JSON.parse(Buffer.from(encoded, 'base64url').toString('utf8')) as unknown;
  } catch {
    throw new InvalidTokenError('malformed');
  }
}

function isExpectedHeader(header: unknown): header is ExpectedHeader {
  if (!isRecord(header)) return false;
  return (
    Object.keys(header).every((name) => HEADER_PARAMETERS.includes(name)) &&
    header.alg === KEY_MANAGEMENT_ALGORITHM &&
    header.enc === CONTENT_ENCRYPTION_ALGORITHM &&
    header.typ === TOKEN_TYPE &&
    typeof header.kid === 'string' &&
    header.kid.length > 0
  );
}

/** Sorts jose's refusals into our reasons; anything unexpected is a malformed token. */
function reasonOf(error: unknown): InvalidTokenError['reason'] {
  if (error instanceof errors.JWTExpired) return 'expired';
  if (error instanceof errors.JWTClaimValidationFailed || error instanceof errors.JWTInvalid)
    return 'bad-claims';
  if (error instanceof errors.JWEDecryptionFailed) return 'undecryptable';
  if (error instanceof errors.JOSEAlgNotAllowed || error instanceof errors.JOSENotSupported)
    return 'bad-header';
  return 'malformed';
}

function claimsOf(payload: JWTPayload, now: number): AccessTokenClaims {
  const { sub, tid, roles, scope, sid, jti, iat, exp, aud } = payload as Record<string, unknown>;
  if (
    !nonEmpty(sub) ||
    !(tid === null || nonEmpty(tid)) ||
    !Array.isArray(roles) ||
    !roles.every(nonEmpty) ||
    typeof scope !== 'string' ||
    !nonEmpty(sid) ||
    !nonEmpty(jti) ||
    !Number.isSafeInteger(iat) ||
    !Number.isSafeInteger(exp) ||
    // jose accepts an audience array that contains ours; our tokens carry exactly one.
    aud !== TOKEN_AUDIENCE
  ) {
    throw new InvalidTokenError('bad-claims');
  }
  const scopes = scope === '' ? [] : scope.split(' ');
  if (!scopes.every((s) => SCOPE_TOKEN.test(s))) throw new InvalidTokenError('bad-claims');
  const issuedAt = iat as number;
  const expiresAt = exp as number;
  if (expiresAt <= issuedAt) throw new InvalidTokenError('bad-claims');
  if (expiresAt - issuedAt > MAX_TOKEN_LIFETIME_SECONDS) throw new InvalidTokenError('lifetime-too-long');
  if (issuedAt > now + CLOCK_TOLERANCE_SECONDS) throw new InvalidTokenError('not-yet-valid');
  if (expiresAt <= now) throw new InvalidTokenError('expired');
  return {
    userId: sub,
    tenantId: tid,
    roles: [...roles],
    scopes,
    sessionId: sid,
    tokenId: jti,
    issuedAt: new Date(issuedAt * 1000),
    expiresAt: new Date(expiresAt * 1000),
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function nonEmpty(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0;
}
