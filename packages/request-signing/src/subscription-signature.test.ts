import { describe, expect, it } from 'vitest';
import {
  MemoryReplayGuard,
  SUBSCRIPTION_SIGNATURE_EXTENSION,
  decodeKey,
  generateKey,
  sign,
  signSubscription,
  verifySubscription,
  type SubscriptionPayload,
  type VerifySubscriptionInput,
} from './index.js';

const key = decodeKey(generateKey()) as Buffer;
const otherKey = decodeKey(generateKey()) as Buffer;
const now = 1_790_000_000_000;
const principal = 'eyJraW5kIjoiYW5vbnltb3VzIn0';
const payload: SubscriptionPayload = {
  query: 'subscription($d: ID) { deviceStatusChanged(deviceId: $d) { state } }',
  operationName: null,
  variables: { d: 'device-1', filter: { states: ['ONLINE'], limit: 2 } },
};

function signed(overrides: Partial<Parameters<typeof signSubscription>[0]> = {}) {
  return signSubscription({
    caller: 'gateway',
    audience: 'devices',
    key,
    payload,
    principal,
    requestId: 'req-1',
    clientAddress: '203.0.113.7',
    now,
    ...overrides,
  });
}

function check(signature: unknown, overrides: Partial<VerifySubscriptionInput> = {}) {
  return verifySubscription({
    audience: 'devices',
    keys: new Map([['gateway', key]]),
    payload,
    signature,
    now,
    maxSkewMs: 60_000,
    replayGuard: new MemoryReplayGuard({ retentionMs: 120_000, maxEntries: 100 }),
    ...overrides,
  });
}

describe('subscription signatures', () => {
  it('names the extension that carries them', () => {
    expect(SUBSCRIPTION_SIGNATURE_EXTENSION).toBe('fleetSignature');
  });

  it('accepts an untouched subscription, after a JSON round trip, and returns who sent it', () => {
    const signature = JSON.parse(JSON.stringify(signed())) as unknown;
    expect(check(signature, { payload: JSON.parse(JSON.stringify(payload)) as SubscriptionPayload })).toEqual(
      {
        ok: true,
        caller: 'gateway',
        principal,
        requestId: 'req-1',
        clientAddress: '203.0.113.7',
      },
    );
  });

  it('reads the order of the variables as irrelevant, at any depth', () => {
    const reordered = { filter: { limit: 2, states: ['ONLINE'] }, d: 'device-1' };
    expect(check(signed(), { payload: { ...payload, variables: reordered } }).ok).toBe(true);
  });

  it('signs an absent operation name as null and absent variables as none', () => {
    const bare = { query: payload.query };
    const signature = signed({ payload: bare });
    expect(
      check(signature, { payload: { query: payload.query, operationName: null, variables: {} } }).ok,
    ).toBe(true);
    expect(check(signature, { payload: { query: payload.query, variables: null } }).ok).toBe(true);
    expect(check(signature, { payload: { query: payload.query, operationName: '' } }).ok).toBe(false);
  });

  it.each([
    ['query', { query: payload.query.replace('state', 'error') }],
    ['operation name', { operationName: 'Watch' }],
    ['variables', { variables: { ...payload.variables, d: 'device-2' } }],
    ['variables (one more)', { variables: { ...payload.variables, t: 'tenant-1' } }],
    [
      'variables (nested)',
      { variables: { ...payload.variables, filter: { states: ['OFFLINE'], limit: 2 } } },
    ],
    ['variables (removed)', { variables: {} }],
  ])('refuses a subscription whose %s was changed', (_, changed) => {
    expect(check(signed(), { payload: { ...payload, ...changed } })).toEqual({
      ok: false,
      reason: 'bad-signature',
    });
  });

  it.each([
    ['principal', 'x-fleet-principal', 'eyJraW5kIjoidXNlciJ9'],
    ['principal (removed)', 'x-fleet-principal', ''],
    ['request id', 'x-request-id', 'req-2'],
    ['client address', 'x-fleet-client', '198.51.100.1'],
  ])('refuses a subscription whose %s was changed', (_, field, value) => {
    expect(check({ ...signed(), [field]: value })).toEqual({ ok: false, reason: 'bad-signature' });
  });

  it('refuses a signature made with another key, or for another audience', () => {
    expect(check(signed({ key: otherKey }))).toEqual({ ok: false, reason: 'bad-signature' });
    expect(check(signed({ audience: 'aaa' }))).toEqual({ ok: false, reason: 'bad-signature' });
  });

  it('refuses the signature of an HTTP request over the same body', () => {
    const request = sign({
      caller: 'gateway',
      audience: 'devices',
      key,
      method: 'POST',
      path: '/graphql',
      body: JSON.stringify({ query: payload.query, operationName: null, variables: payload.variables }),
      principal,
      requestId: 'req-1',
      now,
    });
    expect(check(request)).toEqual({ ok: false, reason: 'bad-signature' });
  });

  it('refuses the same subscription twice', () => {
    const replayGuard = new MemoryReplayGuard({ retentionMs: 120_000, maxEntries: 100 });
    const signature = signed();
    expect(check(signature, { replayGuard }).ok).toBe(true);
    expect(check(signature, { replayGuard })).toEqual({ ok: false, reason: 'replayed' });
  });

  it('refuses a subscription signed more than the allowed skew away', () => {
    expect(check(signed({ now: now - 61_000 }))).toEqual({ ok: false, reason: 'expired' });
    expect(check(signed({ now: now + 61_000 }))).toEqual({ ok: false, reason: 'expired' });
  });

  it.each([
    ['nothing', undefined],
    ['null', null],
    ['a string', 'signed'],
    ['a list', ['x-fleet-caller', 'gateway']],
    ['a record with a number in it', { ...signed(), 'x-fleet-timestamp': now / 1000 }],
    ['an empty record', {}],
  ])('refuses %s as a signature', (_, signature) => {
    expect(check(signature)).toEqual({ ok: false, reason: 'missing-header' });
  });

  it('refuses a caller it holds no key for', () => {
    expect(check(signed({ caller: 'billing' }))).toEqual({ ok: false, reason: 'unknown-caller' });
  });
});
