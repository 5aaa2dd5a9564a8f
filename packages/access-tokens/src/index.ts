export type { AccessTokenClaims, AccessTokenSubject } from './access-token-claims.js';
export { InvalidTokenError, type InvalidTokenReason } from './invalid-token-error.js';
export { issueAccessToken, type IssuedAccessToken, type IssueOptions } from './issue-access-token.js';
export {
  generateTokenKeyRing,
  MAX_RING_KEYS,
  parseTokenKeyRing,
  TOKEN_KEY_BYTES,
  type TokenKey,
  type TokenKeyRing,
} from './key-ring.js';
export { tokenKeyRing } from './key-ring-variable.js';
export {
  MAX_TOKEN_LENGTH,
  MAX_TOKEN_LIFETIME_SECONDS,
  TOKEN_AUDIENCE,
  TOKEN_ISSUER,
  TOKEN_TYPE,
} from './token-format.js';
export { verifyAccessToken, type VerifyOptions } from './verify-access-token.js';
