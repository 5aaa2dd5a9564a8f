import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { noFaults, startSimulator, type SimulatedRouter, type Simulator } from '@fleet/routeros-sim';
import {
  EmptySelectorError,
  RouterClient,
  RouterConnectionError,
  RouterError,
  RouterLoginError,
  RouterTimeoutError,
  RouterTrapError,
  RouterUnavailableError,
  type RouterEndpoint,
} from './index.js';
import { createServer, type AddressInfo } from 'node:net';
import { encodeSentence, parseCommand, SentenceDecoder } from '@fleet/routeros-wire';
import { recordingProxy } from './test-support/recording-proxy.js';
import { runUnpatched } from './test-support/unpatched-library.js';

const UTF8_TEXT = 'Привет 你好 🚀';

let simulator: Simulator;
let v718: SimulatedRouter;
let v649: SimulatedRouter;
let v642: SimulatedRouter;
const clients: RouterClient[] = [];

beforeAll(async () => {
  simulator = await startSimulator({
    routers: [
      { name: 'r718', version: '7.18' },
      { name: 'r649', version: '6.49' },
      { name: 'r642', version: '6.42' },
    ],
  });
  [v718, v649, v642] = simulator.routers as [SimulatedRouter, SimulatedRouter, SimulatedRouter];
});

afterEach(async () => {
  for (const router of simulator.routers) {
    Object.assign(router.faults, noFaults());
    router.setOffline(false);
  }
  await Promise.all(clients.splice(0).map((client) => client.close()));
});

afterAll(async () => {
  await simulator.close();
});

function endpoint(router: SimulatedRouter, overrides: Partial<RouterEndpoint> = {}): RouterEndpoint {
  return {
    name: router.name,
    host: router.host,
    port: router.port,
    username: 'admin',
    password: 'admin',
    ...overrides,
  };
}

function client(
  router: SimulatedRouter,
  overrides: Partial<RouterEndpoint> = {},
  options = {},
): RouterClient {
  const created = new RouterClient(endpoint(router, overrides), {
    callTimeoutMs: 2_000,
    connectTimeoutMs: 2_000,
    ...options,
  });
  clients.push(created);
  return created;
}

async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function unpatchedOptions(router: SimulatedRouter) {
  return { host: router.host, port: router.port, user: 'admin', password: 'admin', timeout: 30 };
}

describe('RouterClient', () => {
  it('adds, reads, changes and removes items', async () => {
    const api = client(v718);
    const id = await api.add('/ip/address', { address: '10.9.0.1/24', interface: 'ether2', comment: 'lab' });
    expect(id).toMatch(/^\*[0-9A-F]+$/);
    expect(
      await api.print('/ip/address', { where: { '.id': id }, proplist: ['address', 'comment'] }),
    ).toEqual([{ address: '10.9.0.1/24', comment: 'lab' }]);
    await api.set('/ip/address', [id], { comment: 'wan', disabled: true });
    expect(v718.rows('/ip/address').find((row) => row['.id'] === id)).toMatchObject({
      comment: 'wan',
      disabled: 'true',
    });
    await api.remove('/ip/address', [id]);
    expect(v718.rows('/ip/address').some((row) => row['.id'] === id)).toBe(false);
  });

  it('logs in to pre-6.43 routers with the challenge', async () => {
    const rows = await client(v642).print('/system/identity');
    expect(rows).toEqual([{ name: 'r642' }]);
  });

  it('refuses wrong credentials with a login error', async () => {
    await expect(client(v649, { password: 'wrong' }).print('/system/identity')).rejects.toBeInstanceOf(
      RouterLoginError,
    );
    v649.faults.loginFailure = true;
    await expect(client(v649).print('/system/identity')).rejects.toBeInstanceOf(RouterLoginError);
  });

  it('reports a trap as such, and the connection lives on', async () => {
    const api = client(v718);
    await expect(api.remove('/ip/address', ['*FFFF'])).rejects.toBeInstanceOf(RouterTrapError);
    v718.faults.trapOnCommand = 1;
    await expect(api.print('/system/identity')).rejects.toThrow('simulated failure');
    expect(await api.print('/system/identity')).toEqual([{ name: 'r718' }]);
  });

  it('keeps one connection per router and bounds the calls in flight on it', async () => {
    const api = client(v718, {}, { maxConcurrentCalls: 2 });
    v718.faults.latencyMs = 20;
    const results = await Promise.all(Array.from({ length: 20 }, () => api.print('/system/identity')));
    expect(results.every((rows) => rows[0]?.name === 'r718')).toBe(true);
    expect(v718.connectionCount).toBe(1);
  });
});

describe('hazards of the published library, fixed', () => {
  it('!empty (7.18+) is an empty answer, not a crash', async () => {
    const unpatched = await runUnpatched(
      `const api = new lib.RouterOSAPI(options); api.on('error', () => {}); await api.connect();
       return api.write('/ip/address/print', ['?interface=ether9']);`,
      unpatchedOptions(v718),
    );
    expect(unpatched.outcome).toBe('crashed');
    expect(unpatched.stderr).toMatch(/UNKNOWNREPLY|unknown reply/i);

    expect(await client(v718).print('/ip/address', { where: { interface: 'ether9' } })).toEqual([]);
  });

  it('an unexpected answer to /login is a refused login, not a session', async () => {
    // A peer that answers /login with rows instead of `!done` or a challenge.
    const odd = createServer((socket) => {
      const decoder = new SentenceDecoder();
      socket.on('data', (chunk: Buffer) => {
        for (const words of decoder.push(chunk)) {
          const { path, tag } = parseCommand(words);
          const tagged = (reply: string[]) =>
            encodeSentence(tag ? [reply[0]!, `.tag=${tag}`, ...reply.slice(1)] : reply);
          if (path === '/login') {
            socket.write(
              Buffer.concat([tagged(['!re', '=a=1']), tagged(['!re', '=b=2']), tagged(['!done'])]),
            );
          } else {
            socket.write(Buffer.concat([tagged(['!re', '=name=impostor']), tagged(['!done'])]));
          }
        }
      });
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => odd.listen(0, '127.0.0.1', resolve));
    const port = (odd.address() as AddressInfo).port;
    try {
      const unpatched = await runUnpatched(
        `const api = new lib.RouterOSAPI(options); api.on('error', () => {}); await api.connect();
         return api.write('/system/identity/print');`,
        { host: '127.0.0.1', port, user: 'admin', password: 'admin', timeout: 30 },
      );
      expect(['resolved', 'crashed']).toContain(unpatched.outcome);

      const api = new RouterClient({
        name: 'odd',
        host: '127.0.0.1',
        port,
        username: 'admin',
        password: 'admin',
      });
      clients.push(api);
      await expect(api.print('/system/identity')).rejects.toBeInstanceOf(RouterLoginError);
    } finally {
      odd.close();
    }
  });

  it('a command goes out in one write, so no word waits for the router to acknowledge the last', async () => {
    // A peer that answers every sentence with `!done` and keeps what each connection sent, chunk
    // by chunk. The published library writes word by word: with Nagle's algorithm the first word
    // leaves alone and the others wait for its acknowledgement, which the router delays.
    const connections: Buffer[][] = [];
    const peer = createServer((socket) => {
      const chunks: Buffer[] = [];
      connections.push(chunks);
      const decoder = new SentenceDecoder();
      socket.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        for (const words of decoder.push(chunk)) {
          const { tag } = parseCommand(words);
          socket.write(encodeSentence(tag ? ['!done', `.tag=${tag}`] : ['!done']));
        }
      });
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => peer.listen(0, '127.0.0.1', resolve));
    const port = (peer.address() as AddressInfo).port;
    /** Whether every chunk the peer received ended where a sentence ends. */
    const whole = (chunks: Buffer[]) => chunks.length > 0 && chunks.every((chunk) => chunk.at(-1) === 0);
    try {
      const unpatched = await runUnpatched(
        `const api = new lib.RouterOSAPI(options); api.on('error', () => {}); await api.connect();
         return api.write('/interface/print', ['=.proplist=name,type', '?type=ether']);`,
        { host: '127.0.0.1', port, user: 'admin', password: 'admin', timeout: 30 },
      );
      expect(unpatched.outcome).toBe('resolved');
      expect(whole(connections[0]!)).toBe(false);

      const api = new RouterClient({
        name: 'peer',
        host: '127.0.0.1',
        port,
        username: 'admin',
        password: 'admin',
      });
      clients.push(api);
      await api.print('/interface', { proplist: ['name', 'type'], where: { type: 'ether' } });
      await api.print('/system/identity');
      expect(connections).toHaveLength(2);
      expect(whole(connections[1]!)).toBe(true);
    } finally {
      peer.close();
    }
  });

  it('a router that stops answering fails the call at its deadline', async () => {
    v718.faults.hang = true;
    const unpatched = await runUnpatched(
      `const api = new lib.RouterOSAPI(options); api.on('error', () => {}); await api.connect();
       return api.write('/system/resource/print');`,
      unpatchedOptions(v718),
      4_000,
    );
    // The router hangs from the first word on: the library's login waits for ever.
    expect(unpatched.outcome).toBe('pending');

    await expect(
      client(v718, {}, { callTimeoutMs: 500, connectTimeoutMs: 500 }).print('/system/resource'),
    ).rejects.toBeInstanceOf(RouterTimeoutError);
  });

  it('!fatal and a dropped connection reject every call in flight', async () => {
    const unpatched = await runUnpatched(
      `const api = new lib.RouterOSAPI(options); api.on('error', () => {}); await api.connect();
       const call = api.write('/system/resource/print');
       return call;`,
      { ...unpatchedOptions(v649) },
      3_000,
    );
    expect(unpatched.outcome).toBe('resolved'); // healthy router: the scenario itself works

    v649.faults.fatalNext = true;
    const fatal = await runUnpatched(
      `const api = new lib.RouterOSAPI(options); api.on('error', () => {}); await api.connect();
       return api.write('/system/resource/print');`,
      unpatchedOptions(v649),
      3_000,
    );
    expect(fatal.outcome).toBe('pending');

    const api = client(v649);
    await api.print('/system/identity');
    v649.faults.fatalNext = true;
    await expect(api.print('/system/resource')).rejects.toBeInstanceOf(RouterConnectionError);
    v649.faults.dropMidSentence = true;
    await expect(api.print('/interface')).rejects.toBeInstanceOf(RouterConnectionError);
  });

  it('a router that hangs up during the TLS handshake fails the call, not the process', async () => {
    // The socket ends, the library tears the connection down and drops its listeners, then the
    // same socket reports ECONNRESET: with no listener left, that error ended the process.
    const rude = createServer((socket) => socket.end());
    await new Promise<void>((resolve) => rude.listen(0, '127.0.0.1', resolve));
    const port = (rude.address() as AddressInfo).port;
    try {
      for (let attempt = 0; attempt < 20; attempt++) {
        const api = new RouterClient(
          {
            name: 'rude',
            host: '127.0.0.1',
            port,
            username: 'admin',
            password: 'admin',
            tls: { mode: 'pinned', fingerprint256: v718.fingerprint256 },
          },
          { minBackoffMs: 1 },
        );
        clients.push(api);
        await expect(api.print('/system/identity')).rejects.toBeInstanceOf(RouterError);
      }
      // Late socket errors arrive after the calls failed: the process must still be here.
      await new Promise((resolve) => setTimeout(resolve, 200));
    } finally {
      rude.close();
    }
  });

  it('an error event of the library never crashes the process', async () => {
    // After login the router stops answering; the library's idle timeout then emits 'error'.
    const unpatched = await runUnpatched(
      `const api = new lib.RouterOSAPI({ ...options, timeout: 1 }); await api.connect();
       await checkpoint(); return api.write('/system/resource/print');`,
      unpatchedOptions(v649),
      5_000,
      () => (v649.faults.hang = true),
    );
    expect(unpatched.outcome).toBe('crashed');
    v649.faults.hang = false;

    const api = client(v649, {}, { callTimeoutMs: 1_500 });
    await api.print('/system/identity');
    v649.faults.hang = true;
    await expect(api.print('/system/resource')).rejects.toBeInstanceOf(RouterTimeoutError);
  });

  it('a router slower than the deadline fails the call with a timeout', async () => {
    const api = client(v718, {}, { callTimeoutMs: 300 });
    await api.print('/system/identity');
    v718.faults.latencyMs = 1_000;
    await expect(api.print('/system/identity')).rejects.toThrow(/timed out/);
  });

  it('replies cut into tiny TCP fragments are framed correctly', async () => {
    // The published library frames sentences by how TCP cut the stream: a sentence whose closing
    // zero byte arrives on its own is never delivered.
    const proxy = await recordingProxy(v718.host, v718.port, { splitTerminators: true });
    try {
      const unpatched = await runUnpatched(
        `const api = new lib.RouterOSAPI(options); api.on('error', () => {}); await api.connect();
         return api.write('/system/identity/print');`,
        { ...unpatchedOptions(v718), port: proxy.port },
        3_000,
      );
      expect(unpatched.outcome).toBe('pending');
      const split = client(v718, { port: proxy.port }, { callTimeoutMs: 5_000, connectTimeoutMs: 5_000 });
      expect(await split.print('/system/identity')).toEqual([{ name: 'r718' }]);
    } finally {
      await proxy.close();
    }

    const api = client(v718, {}, { callTimeoutMs: 5_000, connectTimeoutMs: 5_000 });
    await api.print('/system/identity');
    v718.faults.fragmentBytes = 1;
    expect(await api.print('/system/identity')).toEqual([{ name: 'r718' }]);
    v718.faults.fragmentBytes = 3;
    const rows = await api.print('/interface', { proplist: ['name'] });
    expect(rows.map((row) => row.name)).toEqual(expect.arrayContaining(['ether1', 'ether2']));
  });

  it('UTF-8 text (Cyrillic, CJK, emoji) round-trips', async () => {
    const unpatched = await runUnpatched(
      `const api = new lib.RouterOSAPI(options); api.on('error', () => {}); await api.connect();
       await api.write('/system/identity/set', ['=name=${UTF8_TEXT}']);
       return (await api.write('/system/identity/print'))[0].name;`,
      unpatchedOptions(v649),
    );
    expect(unpatched.outcome).toBe('resolved');
    expect(unpatched.value).not.toBe(UTF8_TEXT);

    const api = client(v649);
    await api.setSingle('/system/identity', { name: UTF8_TEXT });
    expect(await api.print('/system/identity')).toEqual([{ name: UTF8_TEXT }]);
    expect(v649.rows('/system/identity')[0]?.name).toBe(UTF8_TEXT);
  });

  it('numeric-looking text is not coerced', async () => {
    const api = client(v649);
    const id = await api.add('/ip/address', { address: '10.8.0.1/24', interface: 'ether3', comment: '0012' });
    const unpatched = await runUnpatched(
      `const client = new lib.RouterOSClient(options); client.on('error', () => {});
       const menu = await client.connect();
       return (await menu.menu('/ip address').where({ id: '${id}' }).get())[0].comment;`,
      unpatchedOptions(v649),
    );
    expect(unpatched).toMatchObject({ outcome: 'resolved', value: 12 });
    expect((await api.print('/ip/address', { where: { '.id': id } }))[0]?.comment).toBe('0012');
  });

  it('a change that names no item is refused before anything is sent', async () => {
    const proxy = await recordingProxy(v649.host, v649.port);
    try {
      const unpatched = await runUnpatched(
        `const client = new lib.RouterOSClient(options); client.on('error', () => {});
         const menu = await client.connect();
         await menu.menu('/ip address').where({ comment: 'no such comment' }).update({ comment: 'x' }).catch(() => {});
         return 'sent';`,
        { ...unpatchedOptions(v649), port: proxy.port },
      );
      expect(unpatched.outcome).toBe('resolved');
      expect(
        proxy.sentences.some((s) => s[0] === '/ip/address/set' && !s.some((w) => w.startsWith('=numbers='))),
      ).toBe(true);

      proxy.sentences.length = 0;
      const api = client(v649, { port: proxy.port });
      await expect(api.set('/ip/address', [], { comment: 'x' })).rejects.toBeInstanceOf(EmptySelectorError);
      await expect(api.remove('/ip/address', [])).rejects.toBeInstanceOf(EmptySelectorError);
      expect(proxy.sentences.filter((s) => s[0] !== '/login')).toEqual([]);
    } finally {
      await proxy.close();
    }
  });

  it('API-SSL: a pinned fingerprint or a trusted CA is required, and checked before login', async () => {
    const tlsEndpoint = { port: v718.tlsPort };
    const pinned = client(v718, {
      ...tlsEndpoint,
      tls: { mode: 'pinned', fingerprint256: v718.fingerprint256 },
    });
    expect(await pinned.print('/system/identity')).toEqual([{ name: 'r718' }]);

    const wrongPin = v718.fingerprint256.replace(/^../, v718.fingerprint256.startsWith('00') ? '11' : '00');
    await expect(
      client(v718, { ...tlsEndpoint, tls: { mode: 'pinned', fingerprint256: wrongPin } }).print(
        '/system/identity',
      ),
    ).rejects.toThrow(/does not match the pinned fingerprint/);

    const trusted = client(v718, { ...tlsEndpoint, tls: { mode: 'verify', ca: v718.certificatePem } });
    expect(await trusted.print('/system/identity')).toEqual([{ name: 'r718' }]);

    await expect(
      client(v718, { ...tlsEndpoint, tls: { mode: 'verify', ca: [] } }).print('/system/identity'),
    ).rejects.toThrow(/self[- ]signed certificate/);
  });

  it('reconnects with backoff after the router went away, failing fast meanwhile', async () => {
    const api = client(v718, {}, { minBackoffMs: 400, maxBackoffMs: 400 });
    expect(await api.print('/system/identity')).toEqual([{ name: 'r718' }]);
    v718.setOffline(true);
    await until(() => v718.connectionCount === 0);
    await expect(api.print('/system/identity')).rejects.toBeInstanceOf(RouterConnectionError);
    await expect(api.print('/system/identity')).rejects.toBeInstanceOf(RouterUnavailableError);
    v718.setOffline(false);
    await new Promise((resolve) => setTimeout(resolve, 450));
    expect(await api.print('/system/identity')).toEqual([{ name: 'r718' }]);
  });

  it('survives a reboot: calls fail with a connection error at most, then reconnect', async () => {
    const api = client(v718, {}, { minBackoffMs: 50, maxBackoffMs: 50 });
    await api.print('/system/identity');
    v718.reboot();
    await until(() => v718.connectionCount === 0);
    const deadline = Date.now() + 5_000;
    let rows: Awaited<ReturnType<RouterClient['print']>> | undefined;
    while (!rows && Date.now() < deadline) {
      rows = await api.print('/system/identity').catch((error: unknown) => {
        expect(error).toBeInstanceOf(
          error instanceof RouterUnavailableError ? RouterUnavailableError : RouterConnectionError,
        );
        return undefined;
      });
      if (!rows) await new Promise((resolve) => setTimeout(resolve, 60));
    }
    expect(rows).toEqual([{ name: 'r718' }]);
  });
});
