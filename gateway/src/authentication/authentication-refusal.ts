import type { ServerResponse } from 'node:http';
import { sendJson } from '@fleet/service-kit';

/**
 * Answers a request whose credential was refused. Every 401 is the same whatever the reason
 * (a malformed header, a forged, expired or revoked token, an unknown key), so that a client
 * learns nothing about which check failed. A 503 says the credential could not be checked.
 */
export function sendAuthenticationRefusal(res: ServerResponse, status: 401 | 503): void {
  if (status === 503) {
    sendJson(
      res,
      503,
      graphqlError('Credentials cannot be checked right now; try again shortly', 'SERVICE_UNAVAILABLE'),
      { 'retry-after': '5' },
    );
    return;
  }
  sendJson(res, 401, graphqlError('Invalid credentials', 'UNAUTHENTICATED'), {
    'www-authenticate': 'Bearer',
  });
}

function graphqlError(message: string, code: string) {
  return { errors: [{ message, extensions: { code } }] };
}
