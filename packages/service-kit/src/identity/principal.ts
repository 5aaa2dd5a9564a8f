/**
 * Who is calling, as the gateway established it. The gateway serializes the principal into every
 * subgraph call, under the request signature, and each subgraph rebuilds it from there: no
 * subgraph ever trusts an identity that was not signed by the gateway.
 */
export type Principal =
  | { kind: 'anonymous' }
  | {
      kind: 'user';
      userId: string;
      tenantId: string | null;
      roles: readonly string[];
      scopes: readonly string[];
      sessionId: string;
    }
  | {
      kind: 'apiKey';
      keyId: string;
      tenantId: string;
      scopes: readonly string[];
    };

export const ANONYMOUS: Principal = Object.freeze({ kind: 'anonymous' });

export function encodePrincipal(principal: Principal): string {
  return Buffer.from(JSON.stringify(principal)).toString('base64url');
}

/** Rebuilds a principal from its signed header; anything unexpected is refused, not guessed. */
export function decodePrincipal(encoded: string): Principal | undefined {
  if (encoded === '') return ANONYMOUS;
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(encoded, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (!isRecord(value)) return undefined;
  switch (value.kind) {
    case 'anonymous':
      return ANONYMOUS;
    case 'user':
      return isString(value.userId) &&
        (value.tenantId === null || isString(value.tenantId)) &&
        isStringArray(value.roles) &&
        isStringArray(value.scopes) &&
        isString(value.sessionId)
        ? {
            kind: 'user',
            userId: value.userId,
            tenantId: value.tenantId,
            roles: value.roles,
            scopes: value.scopes,
            sessionId: value.sessionId,
          }
        : undefined;
    case 'apiKey':
      return isString(value.keyId) && isString(value.tenantId) && isStringArray(value.scopes)
        ? { kind: 'apiKey', keyId: value.keyId, tenantId: value.tenantId, scopes: value.scopes }
        : undefined;
    default:
      return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isString(value: unknown): value is string {
  return typeof value === 'string';
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every(isString);
}
