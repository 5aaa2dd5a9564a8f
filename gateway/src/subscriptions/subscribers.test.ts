import { describe, expect, it } from 'vitest';
import type { Principal } from '@fleet/service-kit';
import type { SubscriptionConfig } from './subscription-config.js';
import { Subscribers, type CredentialEnd } from './subscribers.js';

const config = {
  MAX_SUBSCRIPTIONS: 6,
  MAX_SUBSCRIPTIONS_PER_PRINCIPAL: 3,
  MAX_SUBSCRIPTIONS_PER_TENANT: 4,
  MAX_SUBSCRIPTION_CONNECTIONS_PER_PRINCIPAL: 2,
} as SubscriptionConfig;

const user = (userId: string, tenantId: string, sessionId = `s-${userId}`): Principal => ({
  kind: 'user',
  userId,
  tenantId,
  roles: [],
  scopes: ['devices:read'],
  sessionId,
});

function subscribers(revoked: { sessions?: string[]; keys?: string[] } = {}) {
  return new Subscribers(config, {
    sessionRevoked: (id) => revoked.sessions?.includes(id) ?? false,
    apiKeyRevoked: (id) => revoked.keys?.includes(id) ?? false,
  });
}

const later = () => Date.now() + 60_000;
const codeOf = (refusal: unknown) =>
  (refusal as { extensions?: { code?: string } } | undefined)?.extensions?.code;

describe('subscribers', () => {
  it('caps the subscriptions of a person, then of a tenant, then of the process', () => {
    const registry = subscribers();
    const connect = (principal: Principal) => {
      const connection = registry.connect(principal, later(), 'sse', () => undefined);
      if (connection instanceof Error) throw connection;
      return connection;
    };
    const alice = connect(user('alice', 't1'));
    expect([alice.admit(), alice.admit(), alice.admit()]).toEqual([undefined, undefined, undefined]);
    expect(alice.admit()?.message).toMatch(/at most 3 per person/);
    const bob = connect(user('bob', 't1'));
    expect(bob.admit()).toBeUndefined();
    expect(bob.admit()?.message).toMatch(/at most 4 per tenant/);
    const carol = connect(user('carol', 't2'));
    expect([carol.admit(), carol.admit()]).toEqual([undefined, undefined]);
    expect(codeOf(carol.admit())).toBe('SUBSCRIPTION_LIMIT');
    expect(registry.total).toBe(6);
    // Ending one frees its place; disconnecting frees all a connection held.
    alice.release();
    expect(bob.admit()).toBeUndefined();
    alice.disconnect();
    bob.disconnect();
    expect(registry.total).toBe(2);
    expect(connect(user('alice', 't1')).admit()).toBeUndefined();
  });

  it('caps the WebSocket connections of a person, whatever their sessions', () => {
    const registry = subscribers();
    const sockets = [1, 2].map(() =>
      registry.connect(user('alice', 't1'), later(), 'websocket', () => undefined),
    );
    expect(sockets.every((socket) => !(socket instanceof Error))).toBe(true);
    const third = registry.connect(
      user('alice', 't1', 'other-session'),
      later(),
      'websocket',
      () => undefined,
    );
    expect(codeOf(third)).toBe('SUBSCRIPTION_LIMIT');
    // SSE requests count as subscriptions, not as connections.
    expect(registry.connect(user('alice', 't1'), later(), 'sse', () => undefined)).not.toBeInstanceOf(Error);
    (sockets[0] as { disconnect(): void }).disconnect();
    expect(registry.connect(user('alice', 't1'), later(), 'websocket', () => undefined)).not.toBeInstanceOf(
      Error,
    );
  });

  it('ends connections whose credential expired or was revoked, once, and no others', () => {
    const revoked = { sessions: [] as string[], keys: [] as string[] };
    const registry = subscribers(revoked);
    const ended: [string, CredentialEnd][] = [];
    const watch = (name: string, principal: Principal, expiresAt: number) =>
      registry.connect(principal, expiresAt, 'websocket', (end) => ended.push([name, end]));
    watch('expired', user('a', 't1'), Date.now() - 1);
    watch('revoked', user('b', 't1', 'gone'), later());
    watch('key', { kind: 'apiKey', keyId: 'k1', tenantId: 't1', scopes: [] }, later());
    watch('keyExpired', { kind: 'apiKey', keyId: 'k2', tenantId: 't1', scopes: [] }, Date.now() - 1);
    watch('fine', user('c', 't1'), later());
    revoked.sessions.push('gone');
    revoked.keys.push('k1');
    registry.sweep();
    registry.sweep();
    expect(ended.sort()).toEqual([
      ['expired', 'token-expired'],
      ['key', 'api-key-revoked'],
      ['keyExpired', 'api-key-expired'],
      ['revoked', 'session-revoked'],
    ]);
  });
});
