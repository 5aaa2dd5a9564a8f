import { describe, expect, it } from 'vitest';
import {
  MemoryReplayGuard,
  SIGNATURE_VERSION,
  generateKey,
  decodeKey,
  sign,
  verify,
  type VerifyInput,
} from './index.js';

const key = decodeKey(generateKey()) as Buffer;
const otherKey = decodeKey(generateKey()) as Buffer;
const now = 1_790_000_000_000;
const body = JSON.stringify({ query: '{ devices { id } }' });

function signed(overrides: Partial<Parameters<typeof sign>[0]> = {}) {
  return sign({
    caller: 'gateway',
    audience: 'devices',
    key,
    method: 'POST',
    path: '/graphql',
    body,
    principal: 'eyJraW5kIjoiYW5vbnltb3VzIn0',
    requestId: 'req-1',
    clientAddress: '203.0.113.7',
    now,
    ...overrides,
  });
}

function check(headers: Record<string, string>, overrides: Partial<VerifyInput> = {}) {
  return verify({
    audience: 'devices',
    keys: new Map([['gateway', key]]),
    method: 'POST',
    path: '/graphql',
    body,
    headers,
    now,
    maxSkewMs: 60_000,
    replayGuard: new MemoryReplayGuard({ retentionMs: 120_000, maxEntries: 100 }),
    ...overrides,
  });
}

describe('request signatures', () => {
  it('accepts an untouched request and returns who sent it', () => {
    expect(check(signed())).toEqual({
      ok: true,
      caller: 'gateway',
      principal: 'eyJraW5kIjoiYW5vbnltb3VzIn0',
      requestId: 'req-1',
      clientAddress: '203.0.113.7',
    });
  });

  it('signs an empty client address when none is given, and reads a missing header as empty', () => {
    const headers = signed({ clientAddress: undefined });
    expect(headers['x-fleet-client']).toBe('');
    expect(check(headers)).toMatchObject({ ok: true, clientAddress: '' });
    const { 'x-fleet-client': _, ...withoutHeader } = headers;
    expect(check(withoutHeader)).toMatchObject({ ok: true, clientAddress: '' });
  });

  it('names the canonical form that covers the client address', () => {
    expect(SIGNATURE_VERSION).toBe('fleet-sig-v2');
  });

  it('refuses a request without the signature headers', () => {
    expect(check({})).toEqual({ ok: false, reason: 'missing-header' });
  });

  it.each([
    ['body', { body: body.replace('devices', 'tenants') }],
    ['path', { path: '/graphql?x=1' }],
    ['method', { method: 'GET' }],
    ['audience', { audience: 'aaa' }],
  ])('refuses a request whose %s was changed', (_, overrides) => {
    expect(check(signed(), overrides)).toEqual({ ok: false, reason: 'bad-signature' });
  });

  it.each([
    ['principal', 'x-fleet-principal', 'eyJraW5kIjoidXNlciJ9'],
    ['request id', 'x-request-id', 'req-2'],
    ['client address', 'x-fleet-client', '198.51.100.1'],
    ['client address (removed)', 'x-fleet-client', ''],
    ['nonce', 'x-fleet-nonce', 'another'],
    ['timestamp', 'x-fleet-timestamp', String(now / 1000 - 1)],
  ])('refuses a request whose %s header was changed', (_, header, value) => {
    expect(check({ ...signed(), [header]: value })).toEqual({ ok: false, reason: 'bad-signature' });
  });

  it('refuses a signature made with another key', () => {
    expect(check(signed({ key: otherKey }))).toEqual({ ok: false, reason: 'bad-signature' });
  });

  it('refuses a caller it holds no key for', () => {
    expect(check(signed({ caller: 'billing' }))).toEqual({ ok: false, reason: 'unknown-caller' });
  });

  it('refuses requests signed more than the allowed skew away, in either direction', () => {
    expect(check(signed({ now: now - 61_000 }))).toEqual({ ok: false, reason: 'expired' });
    expect(check(signed({ now: now + 61_000 }))).toEqual({ ok: false, reason: 'expired' });
    expect(check(signed({ now: now - 59_000 })).ok).toBe(true);
  });

  it('refuses a malformed timestamp', () => {
    expect(check({ ...signed(), 'x-fleet-timestamp': '1e9' })).toEqual({
      ok: false,
      reason: 'bad-timestamp',
    });
  });

  it('refuses the same request twice', () => {
    const replayGuard = new MemoryReplayGuard({ retentionMs: 120_000, maxEntries: 100 });
    const headers = signed();
    expect(check(headers, { replayGuard }).ok).toBe(true);
    expect(check(headers, { replayGuard })).toEqual({ ok: false, reason: 'replayed' });
  });

  it('does not remember nonces of requests whose signature failed', () => {
    const replayGuard = new MemoryReplayGuard({ retentionMs: 120_000, maxEntries: 100 });
    const headers = signed();
    check({ ...headers, 'x-fleet-signature': 'forged' }, { replayGuard });
    expect(replayGuard.size).toBe(0);
    expect(check(headers, { replayGuard }).ok).toBe(true);
  });
});

describe('memory replay guard', () => {
  it('forgets nonces once their retention has passed', () => {
    const guard = new MemoryReplayGuard({ retentionMs: 1_000, maxEntries: 10 });
    expect(guard.remember('a', 0)).toBe(true);
    expect(guard.remember('a', 999)).toBe(false);
    expect(guard.remember('a', 1_000)).toBe(true);
  });

  it('refuses new nonces when full rather than forgetting live ones', () => {
    const guard = new MemoryReplayGuard({ retentionMs: 1_000, maxEntries: 2 });
    expect(guard.remember('a', 0)).toBe(true);
    expect(guard.remember('b', 0)).toBe(true);
    expect(guard.remember('c', 0)).toBe(false);
    expect(guard.remember('c', 1_000)).toBe(true);
  });
});

describe('keys', () => {
  it('rejects short or malformed keys with a reason', () => {
    expect(decodeKey('abc')).toEqual({ error: 'must hold at least 32 bytes' });
    expect(decodeKey('not base64!')).toEqual({ error: 'must be base64url text' });
    expect(decodeKey(generateKey())).toBeInstanceOf(Buffer);
  });
});
