import { InvalidTokenError, verifyAccessToken, type TokenKeyRing } from '@fleet/access-tokens';
import { ANONYMOUS, type Principal } from '@fleet/service-kit';
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
    let claims;
    try {
      claims = await verifyAccessToken(this.#options.tokenKeys, token);
    } catch (error) {
      if (error instanceof InvalidTokenError) {
        return { ok: false, status: 401, reason: `token-${error.reason}`, credential: 'bearer' };
      }
      throw error;
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
