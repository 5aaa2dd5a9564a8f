import { describe, expect, it } from 'vitest';
import { ANONYMOUS, decodePrincipal, encodePrincipal, type Principal } from './principal.js';

describe('principal encoding', () => {
  it.each<Principal>([
    ANONYMOUS,
    {
      kind: 'user',
      userId: 'u1',
      tenantId: 't1',
      roles: ['admin'],
      scopes: ['devices:write'],
      sessionId: 's1',
    },
    { kind: 'user', userId: 'u2', tenantId: null, roles: [], scopes: [], sessionId: 's2' },
    { kind: 'apiKey', keyId: 'k1', tenantId: 't1', scopes: ['devices:read'] },
  ])('round-trips %o', (principal) => {
    expect(decodePrincipal(encodePrincipal(principal))).toEqual(principal);
  });

  it('reads an empty header as anonymous', () => {
    expect(decodePrincipal('')).toEqual(ANONYMOUS);
  });

  it.each([
    ['not base64 JSON', '%%%'],
    ['an unknown kind', Buffer.from('{"kind":"root"}').toString('base64url')],
    [
      'a user without roles',
      Buffer.from('{"kind":"user","userId":"u","tenantId":null,"sessionId":"s"}').toString('base64url'),
    ],
    ['an array', Buffer.from('[]').toString('base64url')],
  ])('refuses %s', (_, encoded) => {
    expect(decodePrincipal(encoded)).toBeUndefined();
  });

  it('drops fields it does not know', () => {
    const encoded = Buffer.from(JSON.stringify({ ...ANONYMOUS, admin: true })).toString('base64url');
    expect(decodePrincipal(encoded)).toEqual({ kind: 'anonymous' });
  });
});
