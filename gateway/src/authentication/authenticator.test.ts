import {
  generateTokenKeyRing,
  issueAccessToken,
  parseTokenKeyRing,
  type TokenKeyRing,
} from '@fleet/access-tokens';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ApiKeyCheck } from './api-key-verifier.js';
import { Authenticator } from './authenticator.js';

const ring = parseTokenKeyRing(generateTokenKeyRing()) as TokenKeyRing;
const otherRing = parseTokenKeyRing(generateTokenKeyRing('k9')) as TokenKeyRing;
const subject = { userId: 'u1', tenantId: 't1', roles: ['admin'], scopes: ['devices:read'], sessionId: 's1' };

function authenticator(options: { revokedSessions?: string[]; apiKey?: ApiKeyCheck } = {}) {
  const asked: string[] = [];
  const instance = new Authenticator({
    tokenKeys: ring,
    revocations: {
      sessionRevoked: (id) => (options.revokedSessions ?? []).includes(id),
      apiKeyRevoked: () => false,
    },
    apiKeys: {
      verify: (key) => {
        asked.push(key);
        return Promise.resolve(options.apiKey ?? { status: 'invalid', reason: 'unknown' });
      },
    },
  });
  return { instance, asked };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('authentication', () => {
  it('lets a request without credentials in as anonymous', async () => {
    expect(await authenticator().instance.authenticate({})).toEqual({
      ok: true,
      principal: { kind: 'anonymous' },
      trustedDocuments: null,
      expiresAt: null,
    });
  });

  it('makes a user of a valid access token', async () => {
    const { token, expiresAt } = await issueAccessToken(ring, subject);
    expect(await authenticator().instance.authenticate(bearer(token))).toEqual({
      ok: true,
      principal: { kind: 'user', ...subject },
      trustedDocuments: null,
      expiresAt: expiresAt.getTime(),
    });
  });

  it('refuses the token of a revoked session', async () => {
    const { token } = await issueAccessToken(ring, subject);
    expect(
      await authenticator({ revokedSessions: ['s1'] }).instance.authenticate(bearer(token)),
    ).toMatchObject({
      ok: false,
      status: 401,
      reason: 'session-revoked',
    });
  });

  describe('of a token it has seen before', () => {
    afterEach(() => {
      vi.useRealTimers();
    });

    it('refuses it once its session is revoked', async () => {
      const revokedSessions: string[] = [];
      const { instance } = authenticator({ revokedSessions });
      const { token } = await issueAccessToken(ring, subject);
      expect(await instance.authenticate(bearer(token))).toMatchObject({ ok: true });
      revokedSessions.push('s1');
      expect(await instance.authenticate(bearer(token))).toMatchObject({
        ok: false,
        status: 401,
        reason: 'session-revoked',
      });
    });

    it('refuses it once it has expired', async () => {
      const { instance } = authenticator();
      const { token, expiresAt } = await issueAccessToken(ring, subject);
      expect(await instance.authenticate(bearer(token))).toMatchObject({ ok: true });
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(expiresAt.getTime() + 1_000);
      expect(await instance.authenticate(bearer(token))).toMatchObject({
        ok: false,
        status: 401,
        reason: 'token-expired',
      });
    });
  });

  it.each([
    [
      'a token of another ring',
      async () => bearer((await issueAccessToken(otherRing, subject)).token),
      'token-unknown-key',
    ],
    [
      'an expired token',
      async () => bearer((await issueAccessToken(ring, subject, { now: new Date(0) })).token),
      'token-expired',
    ],
    ['garbage', () => Promise.resolve(bearer('not-a-token')), 'token-malformed'],
    ['another scheme', () => Promise.resolve({ authorization: 'Basic abc' }), 'not-bearer'],
    [
      'both credentials',
      () => Promise.resolve({ authorization: 'Bearer x', 'x-api-key': 'fk_x' }),
      'both-credentials',
    ],
  ])('refuses %s with 401', async (_, headers, reason) => {
    const { instance, asked } = authenticator({
      apiKey: { status: 'valid', keyId: 'k', tenantId: 't', scopes: [], documents: null, expiresAt: 1 },
    });
    expect(await instance.authenticate(await headers())).toMatchObject({ ok: false, status: 401, reason });
    expect(asked).toEqual([]);
  });

  it('makes a partner of a valid API key', async () => {
    const { instance, asked } = authenticator({
      apiKey: {
        status: 'valid',
        keyId: 'k1',
        tenantId: 't1',
        scopes: ['devices:read'],
        documents: new Set(['ab']),
        expiresAt: 1_900_000_000_000,
      },
    });
    expect(await instance.authenticate({ 'x-api-key': 'fk_abc' })).toEqual({
      ok: true,
      principal: { kind: 'apiKey', keyId: 'k1', tenantId: 't1', scopes: ['devices:read'] },
      trustedDocuments: new Set(['ab']),
      expiresAt: 1_900_000_000_000,
    });
    expect(asked).toEqual(['fk_abc']);
  });

  it('refuses an invalid API key with 401, and one that cannot be checked with 503', async () => {
    const invalid = authenticator({ apiKey: { status: 'invalid', reason: 'revoked' } }).instance;
    expect(await invalid.authenticate({ 'x-api-key': 'fk_abc' })).toMatchObject({
      ok: false,
      status: 401,
      reason: 'api-key-revoked',
    });
    const unavailable = authenticator({ apiKey: { status: 'unavailable' } }).instance;
    expect(await unavailable.authenticate({ 'x-api-key': 'fk_abc' })).toMatchObject({
      ok: false,
      status: 503,
    });
  });
});
