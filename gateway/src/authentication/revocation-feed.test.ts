import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeKey, generateKey } from '@fleet/request-signing';
import { createLogger, readBody, SignatureCheck } from '@fleet/service-kit';
import { RevocationFeed, type RevocationFeedOptions } from './revocation-feed.js';

const gatewayKey = decodeKey(generateKey()) as Buffer;
const silent = createLogger({ service: 'test', level: 'silent' });

type Answer = { status: number; body: unknown } | 'hang';

/** A stand-in for aaa's /internal/revocations: checks the gateway's signature, answers as told. */
async function fakeAaa(answer: () => Answer) {
  const calls: { path: string; body: string; caller: string }[] = [];
  const signatures = new SignatureCheck({ audience: 'aaa', logger: silent });
  const server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req, 100_000);
      let caller: string;
      try {
        caller = signatures.check(req, body, new Map([['gateway', gatewayKey]])).caller;
      } catch {
        res.writeHead(401).end();
        return;
      }
      calls.push({ path: req.url ?? '', body: body.toString(), caller });
      const reply = answer();
      if (reply === 'hang') return;
      res.writeHead(reply.status, { 'content-type': 'application/json' }).end(JSON.stringify(reply.body));
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => {
    server.closeAllConnections();
    server.close();
  });
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, calls };
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A logger whose warnings the test reads. */
function capturingLogger() {
  const lines: { level: string; msg: string }[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(JSON.parse(chunk.toString()) as { level: string; msg: string });
      callback();
    },
  });
  return { logger: createLogger({ service: 'test', level: 'info', destination }), lines };
}

function feed(origin: string, options: Partial<RevocationFeedOptions> = {}) {
  const instance = new RevocationFeed({
    aaa: { origin, key: gatewayKey, tls: undefined },
    logger: silent,
    pollMs: 60_000,
    ...options,
  });
  cleanups.push(() => instance.stop());
  return instance;
}

const snapshot = (sessions: string[], apiKeys: string[] = []) => ({
  status: 200,
  body: { sessions, apiKeys },
});

const until = async (condition: () => boolean, timeoutMs = 5_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};

describe('the revocation feed', () => {
  it('polls at start, signed by the gateway for aaa, and knows the revoked sessions and keys', async () => {
    const aaa = await fakeAaa(() => snapshot(['s1', 's2'], ['k1']));
    const revocations = feed(aaa.origin);
    await revocations.start();
    expect(aaa.calls).toEqual([{ path: '/internal/revocations', body: '{}', caller: 'gateway' }]);
    expect(revocations.sessionRevoked('s1')).toBe(true);
    expect(revocations.sessionRevoked('s3')).toBe(false);
    expect(revocations.apiKeyRevoked('k1')).toBe(true);
    expect(revocations.apiKeyRevoked('s1')).toBe(false);
  });

  it('replaces its lists with every answer', async () => {
    let answer = snapshot(['s1'], ['k1']);
    const aaa = await fakeAaa(() => answer);
    const revocations = feed(aaa.origin);
    await revocations.start();
    answer = snapshot(['s2'], []);
    expect(await revocations.poll()).toBe(true);
    expect(revocations.sessionRevoked('s1')).toBe(false);
    expect(revocations.sessionRevoked('s2')).toBe(true);
    expect(revocations.apiKeyRevoked('k1')).toBe(false);
    expect(aaa.calls).toHaveLength(2);
  });

  it('hands the revoked API keys over for eviction', async () => {
    const evicted: string[][] = [];
    const aaa = await fakeAaa(() => snapshot([], ['k1', 'k2']));
    const revocations = feed(aaa.origin, { onApiKeysRevoked: (ids) => evicted.push([...ids]) });
    await revocations.start();
    expect(evicted).toEqual([['k1', 'k2']]);
  });

  it.each([
    ['answers 500', { status: 500, body: {} }],
    ['answers an unexpected body', { status: 200, body: { sessions: 's1' } }],
    ['answers ids that are not text', { status: 200, body: { sessions: [1], apiKeys: [] } }],
  ])('keeps the last lists and warns when aaa %s', async (_, failure) => {
    let answer: Answer = snapshot(['s1'], ['k1']);
    const aaa = await fakeAaa(() => answer);
    const { logger, lines } = capturingLogger();
    const revocations = feed(aaa.origin, { logger });
    await revocations.start();
    answer = failure;
    expect(await revocations.poll()).toBe(false);
    expect(revocations.sessionRevoked('s1')).toBe(true);
    expect(revocations.apiKeyRevoked('k1')).toBe(true);
    expect(lines).toEqual([
      expect.objectContaining({
        level: 'warn',
        msg: 'revocation poll failed; keeping the last known revocations',
      }),
    ]);
    answer = snapshot([]);
    expect(await revocations.poll()).toBe(true);
    expect(revocations.sessionRevoked('s1')).toBe(false);
    expect(lines.at(-1)).toMatchObject({ level: 'info', msg: 'revocation feed recovered' });
  });

  it('keeps the last lists when aaa goes away', async () => {
    const aaa = await fakeAaa(() => snapshot(['s1']));
    const revocations = feed(aaa.origin);
    await revocations.start();
    await cleanups.shift()!();
    expect(await revocations.poll()).toBe(false);
    expect(revocations.sessionRevoked('s1')).toBe(true);
  });

  it('refuses nothing it was not told: a poll signed with another key changes nothing', async () => {
    const aaa = await fakeAaa(() => snapshot(['s1']));
    const revocations = new RevocationFeed({
      aaa: { origin: aaa.origin, key: decodeKey(generateKey()) as Buffer, tls: undefined },
      logger: silent,
      pollMs: 60_000,
    });
    expect(await revocations.poll()).toBe(false);
    expect(revocations.sessionRevoked('s1')).toBe(false);
    expect(aaa.calls).toHaveLength(0);
  });

  it('polls again every pollMs', async () => {
    const aaa = await fakeAaa(() => snapshot([]));
    const revocations = feed(aaa.origin, { pollMs: 20 });
    await revocations.start();
    await until(() => aaa.calls.length >= 4);
  });

  it('does not hold up the start for long when aaa does not answer, and stops cleanly', async () => {
    const aaa = await fakeAaa(() => 'hang');
    const { logger, lines } = capturingLogger();
    const revocations = feed(aaa.origin, { logger, firstPollWaitMs: 100, pollMs: 20 });
    const timersBefore = timers();
    const started = Date.now();
    await revocations.start();
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(lines.map((line) => line.msg)).toEqual(['starting before aaa answered the first revocation poll']);
    await revocations.stop();
    expect(timers()).toBeLessThanOrEqual(timersBefore);
    // Abandoning the poll in flight is not a failure worth a warning.
    expect(lines).toHaveLength(1);
    expect(aaa.calls).toHaveLength(1);
  });

  it('leaves no timer behind once stopped between polls', async () => {
    const aaa = await fakeAaa(() => snapshot([]));
    const revocations = feed(aaa.origin, { pollMs: 60_000 });
    const timersBefore = timers();
    await revocations.start();
    expect(timers()).toBe(timersBefore + 1);
    await revocations.stop();
    expect(timers()).toBe(timersBefore);
  });

  it('runs once', async () => {
    const aaa = await fakeAaa(() => snapshot([]));
    const revocations = feed(aaa.origin);
    await revocations.start();
    await expect(revocations.start()).rejects.toThrow('runs once');
  });
});

function timers(): number {
  return process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length;
}
