import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { decodeKey, generateKey, signSubscription, type SubscriptionPayload } from '@fleet/request-signing';
import { encodePrincipal, type Principal } from '../identity/principal.js';
import { createLogger } from '../logging/logger.js';
import { HttpError } from './http-server.js';
import { SignatureCheck } from './signed-requests.js';

const key = decodeKey(generateKey()) as Buffer;
const keys = new Map([['gateway', key]]);
const payload: SubscriptionPayload = {
  query: 'subscription($t: ID) { deviceStatusChanged(tenantId: $t) { state } }',
  variables: { t: 'tenant-1' },
};
const principal: Principal = {
  kind: 'apiKey',
  keyId: 'key-1',
  tenantId: 'tenant-1',
  scopes: ['devices:read'],
};

function setup() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      callback();
    },
  });
  const logger = createLogger({ service: 'devices', level: 'info', destination });
  return { signatures: new SignatureCheck({ audience: 'devices', logger }), lines };
}

const signed = (overrides: Partial<Parameters<typeof signSubscription>[0]> = {}) =>
  signSubscription({
    caller: 'gateway',
    audience: 'devices',
    key,
    payload,
    principal: encodePrincipal(principal),
    requestId: 'req-1',
    now: Date.now(),
    ...overrides,
  });

function refusal(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('subscription signature check', () => {
  it("returns the subscription's own caller, principal and request id", () => {
    const { signatures } = setup();
    const request = signatures.checkSubscription(payload, signed(), keys);
    expect(request).toMatchObject({ caller: 'gateway', principal, requestId: 'req-1', clientAddress: '' });
  });

  it.each([
    ['no signature', () => undefined, 'missing-header'],
    [
      'a signature of other variables',
      () => signed({ payload: { ...payload, variables: { t: 'x' } } }),
      'bad-signature',
    ],
    [
      'a signature made with another key',
      () => signed({ key: decodeKey(generateKey()) as Buffer }),
      'bad-signature',
    ],
  ])('refuses %s with a bare 401, and logs why', (_, signature, reason) => {
    const { signatures, lines } = setup();
    const error = refusal(() => signatures.checkSubscription(payload, signature(), keys));
    expect(error).toBeInstanceOf(HttpError);
    expect(error).toMatchObject({ status: 401, message: 'Unauthorized' });
    expect(lines).toEqual([
      expect.objectContaining({ reason, msg: 'refused an unsigned or badly signed subscription' }),
    ]);
  });

  it('refuses a signed principal it cannot read', () => {
    const { signatures, lines } = setup();
    const error = refusal(() =>
      signatures.checkSubscription(payload, signed({ principal: 'not-a-principal' }), keys),
    );
    expect(error).toMatchObject({ status: 401 });
    expect(lines[0]).toMatchObject({ msg: 'refused a signed request with an unreadable principal' });
  });

  it('accepts each signature once', () => {
    const { signatures } = setup();
    const signature = signed();
    signatures.checkSubscription(payload, signature, keys);
    expect(refusal(() => signatures.checkSubscription(payload, signature, keys))).toMatchObject({
      status: 401,
    });
  });
});
