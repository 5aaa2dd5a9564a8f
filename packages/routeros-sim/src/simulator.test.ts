import { X509Certificate } from 'node:crypto';
import { connect, createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from './index.js';
import { eventually, RawClient } from './testing/raw-client.js';

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.on('error', () => resolve(true));
    socket.on('connect', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

describe('a simulator', () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startSimulator({
      routers: [
        { name: 'alpha' },
        {
          name: 'bravo',
          version: '6.49',
          users: [{ name: 'ops', password: 's3cret', group: 'write' }],
          interfaces: 2,
        },
      ],
    });
  });
  afterAll(() => sim.close());

  it('gives an inventory entry per router', () => {
    const fingerprint = sim.routers[0]!.fingerprint256;
    expect(fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(sim.inventory()).toEqual([
      {
        name: 'alpha',
        host: '127.0.0.1',
        port: sim.routers[0]!.port,
        tlsPort: sim.routers[0]!.tlsPort,
        username: 'admin',
        password: 'admin',
        version: '7.18',
        fingerprint256: fingerprint,
      },
      {
        name: 'bravo',
        host: '127.0.0.1',
        port: sim.routers[1]!.port,
        tlsPort: sim.routers[1]!.tlsPort,
        username: 'ops',
        password: 's3cret',
        version: '6.49',
        fingerprint256: fingerprint,
      },
    ]);
    const ports = sim.routers.flatMap((router) => [router.port, router.tlsPort]);
    expect(new Set(ports).size).toBe(4);
    expect(sim.routers[1]!.rows('/interface')).toHaveLength(2);
    expect(sim.routers[1]!.rows('/user')).toEqual([expect.objectContaining({ name: 'ops', group: 'write' })]);
  });

  it('serves API-SSL with its certificate: pinned by fingerprint, or verified against it as a CA', async () => {
    const router = sim.routers[0]!;
    expect(new X509Certificate(router.certificatePem).fingerprint256).toBe(router.fingerprint256);
    const pinned = await RawClient.connectTls(router.tlsPort, {
      checkServerIdentity: (_host, certificate) =>
        certificate.fingerprint256 === router.fingerprint256 ? undefined : new Error('fingerprint mismatch'),
    });
    await pinned.login();
    expect(await pinned.command('/system/identity/print')).toEqual([['!re', '=name=alpha'], ['!done']]);
    const verified = await RawClient.connectTls(router.tlsPort, {
      rejectUnauthorized: true,
      ca: router.certificatePem,
      servername: 'localhost',
    });
    await verified.login();
    await expect(
      RawClient.connectTls(router.tlsPort, { rejectUnauthorized: true, servername: 'localhost' }),
    ).rejects.toThrow(/self[- ]signed/);
    pinned.close();
    verified.close();
  });

  it('counts open connections, plain and TLS', async () => {
    const router = sim.routers[1]!;
    await eventually(() => expect(router.connectionCount).toBe(0));
    const plain = await RawClient.connect(router.port);
    const secure = await RawClient.connectTls(router.tlsPort);
    await eventually(() => expect(router.connectionCount).toBe(2));
    plain.close();
    await eventually(() => expect(router.connectionCount).toBe(1));
    secure.close();
    await eventually(() => expect(router.connectionCount).toBe(0));
  });

  it('keeps routers apart', async () => {
    const client = await RawClient.connect(sim.routers[0]!.port);
    await client.login();
    await client.command('/ip/pool/add', '=name=only-alpha', '=ranges=10.0.0.1-10.0.0.5');
    expect(sim.routers[0]!.rows('/ip/pool')).toHaveLength(1);
    expect(sim.routers[1]!.rows('/ip/pool')).toHaveLength(0);
    client.close();
  });
});

describe('starting and stopping', () => {
  it('listens on basePort+i (plain) and basePort+count+i (TLS)', async () => {
    let sim: Simulator | undefined;
    for (let attempt = 0; !sim; attempt++) {
      // Below the usual ephemeral range, so other tests' ephemeral ports do not collide.
      const basePort = 20_000 + Math.floor(Math.random() * 12_000);
      try {
        sim = await startSimulator({ routers: 3, basePort });
      } catch (error) {
        if (attempt > 5 || !String(error).includes('EADDRINUSE')) throw error;
      }
    }
    const base = sim.routers[0]!.port;
    expect(sim.routers.map((router) => [router.port, router.tlsPort])).toEqual([
      [base, base + 3],
      [base + 1, base + 4],
      [base + 2, base + 5],
    ]);
    const client = await RawClient.connect(base + 2);
    await client.login();
    client.close();
    await sim.close();
    expect(await refused(base)).toBe(true);
    expect(await refused(base + 5)).toBe(true);
  });

  it('refuses bad options', async () => {
    await expect(startSimulator({ routers: [{ version: '5.26' }] })).rejects.toThrow(
      /unknown RouterOS version/,
    );
    await expect(startSimulator({ routers: [{ name: 'x' }, { name: 'x' }] })).rejects.toThrow(/unique/);
    await expect(startSimulator({ routers: 2, basePort: 65535 })).rejects.toThrow(/no room/);
  });

  it('fails to start when a port is taken, leaving no listener behind', async () => {
    // Ports below the usual ephemeral range, where other tests' listeners do not land.
    const blocker = createServer();
    let taken = 0;
    while (taken === 0) {
      const port = 20_000 + Math.floor(Math.random() * 12_000);
      taken = await new Promise<number>((resolve) => {
        blocker.once('error', () => resolve(0));
        blocker.listen({ host: '127.0.0.1', port }, () => resolve(port));
      });
    }
    // Router 2's plain port is the taken one; router 1's two ports must be free again afterwards.
    await expect(startSimulator({ routers: 2, basePort: taken - 1 })).rejects.toThrow(/EADDRINUSE/);
    expect(await refused(taken - 1)).toBe(true);
    expect(await refused(taken + 1)).toBe(true);
    await new Promise((resolve) => blocker.close(resolve));
  });

  it('runs a thousand routers in one process', async () => {
    const sim = await startSimulator({ routers: 1000 });
    try {
      expect(new Set(sim.routers.flatMap((router) => [router.port, router.tlsPort])).size).toBe(2000);
      for (const index of [0, 499, 999]) {
        const router = sim.routers[index]!;
        const plain = await RawClient.connect(router.port);
        await plain.login();
        expect(await plain.command('/system/identity/print')).toEqual([
          ['!re', `=name=router-${index + 1}`],
          ['!done'],
        ]);
        const secure = await RawClient.connectTls(router.tlsPort);
        await secure.login();
        plain.close();
        secure.close();
      }
    } finally {
      await sim.close();
    }
  });
});
