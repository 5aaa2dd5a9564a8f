import {
  InvalidTokenError,
  verifyAccessToken,
  type AccessTokenClaims,
  type TokenKeyRing,
} from '@fleet/access-tokens';
import { ANONYMOUS, LruCache, type Principal } from '@fleet/service-kit';
import type { ApiKeyCheck } from './api-key-verifier.js';
import { readCredentials, type CredentialHeaders } from './credentials.js';
import type { RevocationSnapshot } from './revocation-feed.js';

export type Authentication =
  /**
   * `trustedDocuments`: the operations an API key is restricted to (SHA-256 hex), else null.
   * `expiresAt`: when the credential stops being valid (milliseconds since the epoch), which ends
   * its subscriptions; null for anonymous callers.
   */
  | {
      ok: true;
      principal: Principal;
      trustedDocuments: ReadonlySet<string> | null;
      expiresAt: number | null;
    }
  /**
   * 401: the credential is wrong (malformed, forged, expired, revoked, unknown);
   * 503: it could not be checked. `reason` is for the logs only.
   */
  | { ok: false; status: 401 | 503; reason: string; credential: 'bearer' | 'apiKey' | 'malformed' };

/** Most verified access tokens kept (about 1 KB each). */
const VERIFIED_TOKENS = 10_000;

export interface AuthenticatorOptions {
  tokenKeys: TokenKeyRing;
  revocations: RevocationSnapshot;
  apiKeys: { verify(key: string): Promise<ApiKeyCheck> };
}

/**
 * Establishes who calls the gateway, before anything else happens to the request: a user with
 * an access token, a partner with an API key, or nobody (anonymous, whom the allow-list plugin
 * confines to signing in). A credential that is present but wrong is refused whole; it never
 * falls back to anonymous.
 */
export class Authenticator {
  readonly #options: AuthenticatorOptions;
  /**
   * Tokens already decrypted and checked, until they expire: a client sends the same token with
   * every request for its lifetime (15 minutes), and decrypting it is a tenth of the gateway's
   * own work per request. Only tokens that passed every check are kept; revocation is checked
   * on every request all the same.
   */
  readonly #verified = new LruCache<string, AccessTokenClaims>(VERIFIED_TOKENS);

  constructor(options: AuthenticatorOptions) {
    this.#options = options;
  }

  async authenticate(headers: CredentialHeaders): Promise<Authentication> {
    const credentials = readCredentials(headers);
    switch (credentials.kind) {
      case 'none':
        return { ok: true, principal: ANONYMOUS, trustedDocuments: null, expiresAt: null };
      case 'malformed':
        return { ok: false, status: 401, reason: credentials.reason, credential: 'malformed' };
      case 'bearer':
        return this.#bearer(credentials.token);
      case 'apiKey':
        return this.#apiKey(credentials.key);
    }
  }

  async #bearer(token: string): Promise<Authentication> {
    let claims = this.#verified.get(token);
    if (claims && claims.expiresAt.getTime() <= Date.now()) claims = undefined;
    if (!claims) {
      try {
        claims = await verifyAccessToken(this.#options.tokenKeys, token);
      } catch (error) {
        if (error instanceof InvalidTokenError) {
          return { ok: false, status: 401, reason: `token-${error.reason}`, credential: 'bearer' };
        }
        throw error;
      }
      this.#verified.set(token, claims);
    }
    if (this.#options.revocations.sessionRevoked(claims.sessionId)) {
      return { ok: false, status: 401, reason: 'session-revoked', credential: 'bearer' };
    }
    return {
      ok: true,
      principal: {
        kind: 'user',
        userId: claims.userId,
        tenantId: claims.tenantId,
        roles: claims.roles,
        scopes: claims.scopes,
        sessionId: claims.sessionId,
      },
      trustedDocuments: null,
      expiresAt: claims.expiresAt.getTime(),
    };
  }

  async #apiKey(key: string): Promise<Authentication> {
    const check = await this.#options.apiKeys.verify(key);
    switch (check.status) {
      case 'valid':
        return {
          ok: true,
          principal: { kind: 'apiKey', keyId: check.keyId, tenantId: check.tenantId, scopes: check.scopes },
          trustedDocuments: check.documents,
          expiresAt: check.expiresAt,
        };
      case 'invalid':
        return { ok: false, status: 401, reason: `api-key-${check.reason}`, credential: 'apiKey' };
      case 'unavailable':
        return { ok: false, status: 503, reason: 'api-key-unverifiable', credential: 'apiKey' };
    }
  }
}
