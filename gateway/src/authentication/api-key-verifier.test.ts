import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeKey, generateKey } from '@fleet/request-signing';
import { createLogger, readBody, SignatureCheck } from '@fleet/service-kit';
import { ApiKeyVerifier, type ApiKeyVerifierOptions } from './api-key-verifier.js';

const logger = createLogger({ service: 'test', level: 'silent' });
const gatewayKey = decodeKey(generateKey()) as Buffer;
const KEY = `fk_${'a'.repeat(43)}`;
const OTHER_KEY = `fk_${'b'.repeat(43)}`;

type Answer = { status: number; body: unknown } | 'hang';

/**
 * A stand-in for aaa's /internal/api-keys/verify: it checks the gateway's signature as aaa does,
 * records what it was asked, and answers what the test says.
 */
async function fakeAaa(answer: (key: string) => Answer | Promise<Answer>) {
  const calls: { path: string; body: unknown; caller: string; principal: string }[] = [];
  let refused = 0;
  const signatures = new SignatureCheck({ audience: 'aaa', logger });
  const server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req, 100_000);
      let caller: string;
      let principal: string;
      try {
        const signed = signatures.check(req, body, new Map([['gateway', gatewayKey]]));
        caller = signed.caller;
        principal = signed.principal.kind;
      } catch {
        refused++;
        res.writeHead(401).end();
        return;
      }
      const parsed = JSON.parse(body.toString()) as { key: string };
      calls.push({ path: req.url ?? '', body: parsed, caller, principal });
      const reply = await answer(parsed.key);
      if (reply === 'hang') return;
      res.writeHead(reply.status, { 'content-type': 'application/json' }).end(JSON.stringify(reply.body));
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  servers.push(server);
  return { origin, calls, refused: () => refused };
}

const servers: ReturnType<typeof createServer>[] = [];
/** The verifiers' clock, which the fake aaa's expiry dates are counted from too. */
let clock = { now: Date.now() };
beforeEach(() => {
  clock = { now: Date.now() };
});
afterEach(() => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    server.close();
  }
});

function valid(keyId: string, expiresInMs = 3_600_000) {
  return {
    status: 200,
    body: {
      valid: true,
      keyId,
      tenantId: 'tenant-1',
      scopes: ['devices:read'],
      expiresAt: new Date(clock.now + expiresInMs).toISOString(),
    },
  };
}

/** A verifier whose clock the test moves. */
function verifier(origin: string, options: Partial<ApiKeyVerifierOptions> = {}) {
  const revoked = new Set<string>();
  const instance = new ApiKeyVerifier({
    aaa: { origin, key: gatewayKey, tls: undefined },
    logger,
    isRevoked: (keyId) => revoked.has(keyId),
    now: () => clock.now,
    ...options,
  });
  return { verifier: instance, revoked };
}

describe('API key verification', () => {
  it('asks aaa once, signed by the gateway for aaa, then answers from its cache', async () => {
    const aaa = await fakeAaa(() => valid('key-1'));
    const { verifier: keys } = verifier(aaa.origin);
    const expected = {
      status: 'valid',
      keyId: 'key-1',
      tenantId: 'tenant-1',
      scopes: ['devices:read'],
      documents: null,
      expiresAt: expect.any(Number) as number,
    };
    expect(await keys.verify(KEY)).toEqual(expected);
    expect(await keys.verify(KEY)).toEqual(expected);
    expect(aaa.calls).toEqual([
      { path: '/internal/api-keys/verify', body: { key: KEY }, caller: 'gateway', principal: 'anonymous' },
    ]);
    expect(aaa.refused()).toBe(0);
  });

  it('keeps a valid answer 15 seconds, and never past the key expiry', async () => {
    const aaa = await fakeAaa((key) => (key === KEY ? valid('key-1') : valid('key-2', 4_000)));
    const { verifier: keys } = verifier(aaa.origin);
    await keys.verify(KEY);
    await keys.verify(OTHER_KEY);
    clock.now += 3_999;
    await keys.verify(OTHER_KEY);
    expect(aaa.calls).toHaveLength(2);
    clock.now += 1;
    await keys.verify(OTHER_KEY);
    expect(aaa.calls).toHaveLength(3);
    clock.now += 10_999;
    await keys.verify(KEY);
    expect(aaa.calls).toHaveLength(3);
    clock.now += 1;
    await keys.verify(KEY);
    expect(aaa.calls).toHaveLength(4);
  });

  it('keeps an invalid answer 5 seconds', async () => {
    const aaa = await fakeAaa(() => ({ status: 200, body: { valid: false } }));
    const { verifier: keys } = verifier(aaa.origin);
    expect(await keys.verify(KEY)).toEqual({ status: 'invalid', reason: 'unknown' });
    clock.now += 4_999;
    expect(await keys.verify(KEY)).toEqual({ status: 'invalid', reason: 'unknown' });
    expect(aaa.calls).toHaveLength(1);
    clock.now += 1;
    await keys.verify(KEY);
    expect(aaa.calls).toHaveLength(2);
  });

  it('refuses a key aaa calls valid but whose expiry has passed', async () => {
    const aaa = await fakeAaa(() => valid('key-1', -1));
    const { verifier: keys } = verifier(aaa.origin);
    expect(await keys.verify(KEY)).toEqual({ status: 'invalid', reason: 'expired' });
  });

  it('shares one call to aaa between concurrent checks of a key', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const aaa = await fakeAaa(async () => {
      await released;
      return valid('key-1');
    });
    const { verifier: keys } = verifier(aaa.origin);
    const checks = Promise.all(Array.from({ length: 25 }, () => keys.verify(KEY)));
    await new Promise((resolve) => setTimeout(resolve, 50));
    release();
    const results = await checks;
    expect(results.every((result) => result.status === 'valid')).toBe(true);
    expect(aaa.calls).toHaveLength(1);
  });

  it.each([
    ['too long', `fk_${'a'.repeat(198)}`],
    ['empty', ''],
    ['with a space', 'fk_abc def'],
    ['with a dot', 'fk_abc.def'],
    ['with a comma (two headers joined)', `${KEY}, ${OTHER_KEY}`],
    ['non-ASCII', 'fk_ключ'],
  ])('refuses a key %s without asking aaa', async (_, key) => {
    const aaa = await fakeAaa(() => valid('key-1'));
    const { verifier: keys } = verifier(aaa.origin);
    expect(await keys.verify(key)).toEqual({ status: 'invalid', reason: 'malformed' });
    expect(aaa.calls).toHaveLength(0);
  });

  it('accepts a key of exactly 200 characters', async () => {
    const aaa = await fakeAaa(() => valid('key-1'));
    const { verifier: keys } = verifier(aaa.origin);
    expect((await keys.verify('k'.repeat(200))).status).toBe('valid');
  });

  it('forgets keys the revocation feed names, and refuses them even from the cache', async () => {
    const aaa = await fakeAaa(() => valid('key-1'));
    const { verifier: keys, revoked } = verifier(aaa.origin);
    await keys.verify(KEY);
    expect(keys.size).toBe(1);
    revoked.add('key-1');
    expect(await keys.verify(KEY)).toEqual({ status: 'invalid', reason: 'revoked' });
    keys.evict(new Set(['key-1']));
    expect(keys.size).toBe(0);
    expect(await keys.verify(KEY)).toEqual({ status: 'invalid', reason: 'revoked' });
    expect(aaa.calls).toHaveLength(2);
  });

  it('evicts only the keys named', async () => {
    const aaa = await fakeAaa((key) => valid(key === KEY ? 'key-1' : 'key-2'));
    const { verifier: keys } = verifier(aaa.origin);
    await keys.verify(KEY);
    await keys.verify(OTHER_KEY);
    keys.evict(new Set(['key-2', 'key-9']));
    expect(keys.size).toBe(1);
    await keys.verify(KEY);
    expect(aaa.calls).toHaveLength(2);
  });

  it.each([
    ['answers 500', { status: 500, body: { error: 'x' } }],
    ['answers 401 (another key)', { status: 401, body: {} }],
    ['answers an unexpected body', { status: 200, body: { valid: 'yes' } }],
    ['answers a valid key without scopes', { status: 200, body: { valid: true, keyId: 'k', tenantId: 't' } }],
  ])('is unavailable, without caching, when aaa %s', async (_, reply) => {
    const aaa = await fakeAaa(() => reply);
    const { verifier: keys } = verifier(aaa.origin);
    expect(await keys.verify(KEY)).toEqual({ status: 'unavailable' });
    expect(await keys.verify(KEY)).toEqual({ status: 'unavailable' });
    expect(aaa.calls).toHaveLength(2);
    expect(keys.size).toBe(0);
  });

  it('is unavailable when aaa is unreachable or too slow, and refuses signatures of another key', async () => {
    const closed = await fakeAaa(() => valid('key-1'));
    servers.pop()!.close();
    expect(await verifier(closed.origin).verifier.verify(KEY)).toEqual({ status: 'unavailable' });

    const slow = await fakeAaa(() => 'hang');
    expect(await verifier(slow.origin, { timeoutMs: 100 }).verifier.verify(KEY)).toEqual({
      status: 'unavailable',
    });

    const strict = await fakeAaa(() => valid('key-1'));
    const wrongKey = new ApiKeyVerifier({
      aaa: { origin: strict.origin, key: decodeKey(generateKey()) as Buffer, tls: undefined },
      logger,
      isRevoked: () => false,
    });
    expect(await wrongKey.verify(KEY)).toEqual({ status: 'unavailable' });
    expect(strict.refused()).toBe(1);
  });

  it('keeps answering cached keys while aaa is down', async () => {
    let down = false;
    const aaa = await fakeAaa(() => (down ? { status: 503, body: {} } : valid('key-1')));
    const { verifier: keys } = verifier(aaa.origin);
    await keys.verify(KEY);
    down = true;
    expect((await keys.verify(KEY)).status).toBe('valid');
    expect(await keys.verify(OTHER_KEY)).toEqual({ status: 'unavailable' });
  });

  it('holds at most maxEntries answers, dropping the oldest', async () => {
    const aaa = await fakeAaa((key) => valid(key));
    const { verifier: keys } = verifier(aaa.origin, { maxEntries: 3 });
    for (const key of ['k1', 'k2', 'k3', 'k4']) await keys.verify(key);
    expect(keys.size).toBe(3);
    await keys.verify('k4');
    await keys.verify('k2');
    expect(aaa.calls).toHaveLength(4);
    await keys.verify('k1');
    expect(aaa.calls).toHaveLength(5);
  });

  it('answers checks in flight as unavailable once closed', async () => {
    const aaa = await fakeAaa(() => 'hang');
    const { verifier: keys } = verifier(aaa.origin);
    const pending = keys.verify(KEY);
    await new Promise((resolve) => setTimeout(resolve, 50));
    keys.close();
    expect(await pending).toEqual({ status: 'unavailable' });
  });
});
