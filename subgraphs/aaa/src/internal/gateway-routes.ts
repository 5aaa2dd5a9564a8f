import { HttpError, sendJson, type SignedRoute } from '@fleet/service-kit';
import type { ApiKeyStore } from '../api-keys/api-key-store.js';
import type { SessionStore } from '../sessions/session-store.js';

/**
 * The endpoints only the gateway calls, signed with the gateway's key like its GraphQL calls:
 * the revocation feed it polls, and the check of a partner API key (which it caches briefly).
 */
export function gatewayRoutes(
  gatewayKey: Buffer,
  parts: { sessions: SessionStore; apiKeys: ApiKeyStore },
): Record<string, SignedRoute> {
  const keys = new Map([['gateway', gatewayKey]]);
  return {
    '/internal/revocations': {
      keys,
      async handle(_request, _body, res) {
        const [sessions, apiKeys] = await Promise.all([
          parts.sessions.recentlyRevoked(),
          parts.apiKeys.recentlyRevoked(),
        ]);
        sendJson(res, 200, { sessions, apiKeys });
      },
    },
    '/internal/api-keys/verify': {
      keys,
      async handle(_request, body, res) {
        let key: unknown;
        try {
          key = (JSON.parse(body.toString('utf8')) as { key?: unknown }).key;
        } catch {
          throw new HttpError(400, 'The body must be JSON');
        }
        if (typeof key !== 'string') throw new HttpError(400, 'key must be a string');
        const verified = await parts.apiKeys.verify(key);
        sendJson(
          res,
          200,
          verified
            ? {
                valid: true,
                keyId: verified.keyId,
                tenantId: verified.tenantId,
                scopes: verified.scopes,
                documents: verified.documents,
                expiresAt: verified.expiresAt.toISOString(),
              }
            : { valid: false },
        );
      },
    },
  };
}
