/** What a request presents to prove who it is. */
export type Credentials =
  | { kind: 'none' }
  | { kind: 'bearer'; token: string }
  | { kind: 'apiKey'; key: string }
  | { kind: 'malformed'; reason: 'both-credentials' | 'not-bearer' | 'repeated-header' };

/** The headers that carry credentials, by their HTTP names (lower case, as Node presents them). */
export interface CredentialHeaders {
  authorization?: string;
  'x-api-key'?: string | string[];
}

const BEARER = /^Bearer +(\S+)$/i;

/**
 * Reads the request's credential: an access token as `Authorization: Bearer …`, or a partner's
 * API key as `X-Api-Key`. A request carrying both, or an Authorization header of another scheme,
 * is malformed and refused outright rather than read as anonymous: a credential that is present
 * is never ignored. An empty header counts as present.
 */
export function readCredentials(headers: CredentialHeaders): Credentials {
  const authorization = headers.authorization;
  const apiKey = headers['x-api-key'];
  if (Array.isArray(apiKey)) return { kind: 'malformed', reason: 'repeated-header' };
  if (authorization !== undefined && apiKey !== undefined)
    return { kind: 'malformed', reason: 'both-credentials' };
  if (authorization !== undefined) {
    const match = BEARER.exec(authorization);
    return match ? { kind: 'bearer', token: match[1]! } : { kind: 'malformed', reason: 'not-bearer' };
  }
  if (apiKey !== undefined) return { kind: 'apiKey', key: apiKey };
  return { kind: 'none' };
}
