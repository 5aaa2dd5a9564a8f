/** Who a token speaks for, as aaa hands it to `issueAccessToken`. */
export interface AccessTokenSubject {
  userId: string;
  /** The tenant the session acts in; null for a platform operator acting platform-wide. */
  tenantId: string | null;
  roles: readonly string[];
  scopes: readonly string[];
  sessionId: string;
}

/** What a verified token says. */
export interface AccessTokenClaims {
  userId: string;
  tenantId: string | null;
  roles: string[];
  scopes: string[];
  sessionId: string;
  /** The token's own id (`jti`), for logs. */
  tokenId: string;
  issuedAt: Date;
  expiresAt: Date;
}

/**
 * The claims set as it is encrypted: registered claims (`sub`, `jti`, `iat`, `exp`, `iss`, `aud`)
 * plus `tid` (tenant), `roles`, `scope` (space-separated, as in OAuth) and `sid` (session).
 */
export interface AccessTokenPayload {
  iss: string;
  aud: string;
  sub: string;
  tid: string | null;
  roles: string[];
  scope: string;
  sid: string;
  jti: string;
  iat: number;
  exp: number;
}

/** A scope is an OAuth scope-token (RFC 6749 §3.3): printable ASCII without space, `"` or `\`. */
export const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;
