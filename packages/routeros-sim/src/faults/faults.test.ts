import { connect } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startSimulator, type SimulatedRouter, type Simulator } from '../index.js';
import { eventually, RawClient } from '../testing/raw-client.js';
import { noFaults } from './fault-state.js';

let sim: Simulator;
let router: SimulatedRouter;

async function loggedIn(): Promise<RawClient> {
  const client = await RawClient.connect(router.port);
  await client.login();
  return client;
}

/** Resolves true when a new TCP connection is accepted and stays open, false when it is refused or reset. */
function connectionHolds(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.on('error', () => resolve(false));
    socket.on('close', () => resolve(false));
    socket.on('connect', () =>
      setTimeout(() => {
        resolve(!socket.destroyed);
        socket.destroy();
      }, 200),
    );
  });
}

beforeAll(async () => {
  sim = await startSimulator({ routers: 1 });
  router = sim.routers[0]!;
});
beforeEach(() => {
  router.faults = noFaults();
  router.setOffline(false);
});
afterAll(() => sim.close());

describe('fault injection', () => {
  it('delays each reply by latencyMs, in order', async () => {
    const client = await loggedIn();
    router.faults.latencyMs = 400;
    client.send('/system/identity/print', '.tag=1');
    client.send('#', '.tag=2');
    await client.expectSilence(150);
    expect(await client.untilDone('1')).toEqual([
      ['!re', '.tag=1', '=name=router-1'],
      ['!done', '.tag=1'],
    ]);
    expect(await client.next()).toEqual(['!done', '.tag=2']);
    client.close();
  });

  it('hangs: accepts and reads, never answers, until switched off', async () => {
    router.faults.hang = true;
    const client = await RawClient.connect(router.port);
    client.send('/login', '=name=admin', '=password=admin');
    await client.expectSilence(300);
    expect(client.isClosed).toBe(false);
    router.faults.hang = false;
    await client.login();
    client.close();
  });

  it('drops the connection in the middle of a reply sentence', async () => {
    const client = await loggedIn();
    router.faults.dropMidSentence = true;
    client.send('/system/resource/print');
    await client.waitClosed();
    expect(client.received.length).toBeGreaterThan(0);
    // What arrived is the start of one sentence, never a whole one.
    await expect(client.next(50)).rejects.toThrow(/closed/);
  });

  it('answers the next command with !fatal and closes, once', async () => {
    const client = await loggedIn();
    router.faults.fatalNext = true;
    client.send('/ip/address/print', '.tag=x');
    expect(await client.next()).toEqual(['!fatal', 'simulated failure']);
    await client.waitClosed();
    expect(router.faults.fatalNext).toBe(false);
    const next = await loggedIn();
    expect((await next.command('/ip/address/print')).at(-1)).toEqual(['!done']);
    next.close();
  });

  it('writes replies a few bytes at a time with fragmentBytes', async () => {
    const client = await loggedIn();
    router.faults.fragmentBytes = 3;
    const readsBefore = client.reads;
    const replies = await client.command('/ip/address/print', '.tag=frag');
    expect(replies.at(0)).toEqual(expect.arrayContaining(['!re', '.tag=frag', '=address=192.168.88.1/24']));
    expect(replies.at(-1)).toEqual(['!done', '.tag=frag']);
    expect(client.reads - readsBefore).toBeGreaterThan(10);
    router.faults.fragmentBytes = 0;
    expect(await client.command('#')).toEqual([['!done']]);
    client.close();
  });

  it('traps the Nth command after trapOnCommand is set, once', async () => {
    const client = await loggedIn();
    router.faults.trapOnCommand = 3;
    expect((await client.command('/system/identity/print'))[0]![0]).toBe('!re');
    expect((await client.command('/system/identity/print'))[0]![0]).toBe('!re');
    expect(await client.command('/system/identity/print', '.tag=t')).toEqual([
      ['!trap', '.tag=t', '=category=4', '=message=simulated failure'],
      ['!done', '.tag=t'],
    ]);
    expect(router.faults.trapOnCommand).toBe(0);
    expect((await client.command('/system/identity/print'))[0]![0]).toBe('!re');
    client.close();
  });

  it('fails every login while loginFailure is set', async () => {
    router.faults.loginFailure = true;
    const client = await RawClient.connect(router.port);
    expect(await client.command('/login', '=name=admin', '=password=admin')).toEqual([
      ['!trap', '=message=invalid user name or password (6)'],
      ['!done'],
    ]);
    router.faults = { ...router.faults, loginFailure: false };
    await client.login();
    client.close();
  });

  it('goes offline (connections drop, new ones refused) and comes back with its state', async () => {
    const client = await loggedIn();
    await client.command('/system/identity/set', '=name=kept');
    const tls = await RawClient.connectTls(router.tlsPort);
    await eventually(() => expect(router.connectionCount).toBe(2));
    router.setOffline(true);
    await client.waitClosed();
    await tls.waitClosed();
    expect(router.connectionCount).toBe(0);
    expect(await connectionHolds(router.port)).toBe(false);
    expect(await connectionHolds(router.tlsPort)).toBe(false);
    router.setOffline(false);
    const again = await loggedIn();
    expect(await again.command('/system/identity/print')).toEqual([['!re', '=name=kept'], ['!done']]);
    await again.command('/system/identity/set', '=name=router-1');
    again.close();
  });

  it('reboots: connections drop, uptime starts again, the configuration stays', async () => {
    const client = await loggedIn();
    await client.command('/ip/pool/add', '=name=kept', '=ranges=10.0.0.2-10.0.0.9');
    const uptime = router.rows('/system/resource')[0]!.uptime!;
    router.reboot();
    await client.waitClosed();
    expect(router.rows('/system/resource')[0]!.uptime).toMatch(/^\d+s$/);
    expect(uptime).not.toMatch(/^\d+s$/);
    expect(router.rows('/ip/pool').map((pool) => pool.name)).toEqual(['kept']);
    const again = await loggedIn();
    again.close();
  });
});
