import { legacyLoginResponse } from '@fleet/routeros-wire';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../index.js';
import type { Router } from '../router.js';
import { RawClient } from '../testing/raw-client.js';
import { MAX_SENTENCES_BEFORE_LOGIN } from './session.js';

let sim: Simulator;
const router = (name: string): Router => sim.routers.find((candidate) => candidate.name === name) as Router;
const connect = (name: string): Promise<RawClient> => RawClient.connect(router(name).port);

beforeAll(async () => {
  sim = await startSimulator({
    routers: [
      { name: 'v642', version: '6.42' },
      { name: 'v649', version: '6.49' },
      { name: 'v716', version: '7.16' },
      { name: 'v718', version: '7.18', users: [{ name: 'ops', password: 'pa=ss word' }] },
      { name: 'blank', version: '6.49', users: [{ name: 'admin', password: '' }] },
    ],
  });
});
afterAll(() => sim.close());

describe('6.43+ plain login', () => {
  it('logs in with name and password, on every version that has it', async () => {
    for (const name of ['v649', 'v716']) {
      const client = await connect(name);
      expect(await client.command('/login', '=name=admin', '=password=admin', '.tag=1')).toEqual([
        ['!done', '.tag=1'],
      ]);
      expect(await client.command('/system/identity/print')).toEqual([['!re', `=name=${name}`], ['!done']]);
      client.close();
    }
  });

  it('keeps a password with = and spaces whole', async () => {
    const client = await connect('v718');
    await client.login('ops', 'pa=ss word');
    client.close();
  });

  it('answers a wrong password with the 6.43+ trap, then !done, and lets the client try again', async () => {
    const client = await connect('v718');
    expect(await client.command('/login', '=name=ops', '=password=nope')).toEqual([
      ['!trap', '=message=invalid user name or password (6)'],
      ['!done'],
    ]);
    expect(await client.command('/login', '=name=nobody', '=password=')).toEqual([
      ['!trap', '=message=invalid user name or password (6)'],
      ['!done'],
    ]);
    await client.login('ops', 'pa=ss word');
    client.close();
  });

  it('offers no challenge on 7.x', async () => {
    const client = await connect('v716');
    expect(await client.command('/login')).toEqual([
      ['!trap', '=message=invalid user name or password (6)'],
      ['!done'],
    ]);
    client.close();
  });

  it('knows users added over the API, and refuses disabled ones', async () => {
    const admin = await connect('v716');
    await admin.login();
    expect((await admin.command('/user/add', '=name=noc', '=group=read', '=password=n0c'))[0]![0]).toBe(
      '!done',
    );
    const noc = await connect('v716');
    await noc.login('noc', 'n0c');
    expect(await admin.command('/user/disable', '=numbers=noc')).toEqual([['!done']]);
    const again = await connect('v716');
    expect((await again.command('/login', '=name=noc', '=password=n0c'))[0]![0]).toBe('!trap');
    for (const client of [admin, noc, again]) client.close();
  });
});

describe('pre-6.43 challenge login', () => {
  it('checks the response with the manual test vectors (empty password)', async () => {
    const vectors = [
      ['93b438ec9b80057c06dd9fe67d56aa9a', '00e134102a9d330dd7b1849fedfea3cb57'],
      ['856780b7411eefd3abadee2058c149a3', '005062f7a5ef124d34675bf3e81f56c556'],
    ] as const;
    for (const [challenge, response] of vectors) {
      router('blank').pendingChallenges.push(challenge);
      const client = await connect('blank');
      expect(await client.command('/login')).toEqual([['!done', `=ret=${challenge}`]]);
      expect(await client.command('/login', '=name=admin', `=response=${response}`)).toEqual([['!done']]);
      expect((await client.command('/system/identity/print'))[0]).toEqual(['!re', '=name=blank']);
      client.close();
    }
  });

  it('works on 6.49 with a random challenge', async () => {
    const client = await connect('v649');
    const [reply] = await client.command('/login', '.tag=x');
    expect(reply).toEqual(['!done', '.tag=x', expect.stringMatching(/^=ret=[0-9a-f]{32}$/)]);
    const challenge = reply![2]!.slice('=ret='.length);
    expect(
      await client.command(
        '/login',
        '=name=admin',
        `=response=${legacyLoginResponse('admin', challenge)}`,
        '.tag=y',
      ),
    ).toEqual([['!done', '.tag=y']]);
    client.close();
  });

  it('on 6.42 ignores a plain password and answers with a challenge, without logging in', async () => {
    const client = await connect('v642');
    const [reply] = await client.command('/login', '=name=admin', '=password=admin');
    expect(reply).toEqual(['!done', expect.stringMatching(/^=ret=[0-9a-f]{32}$/)]);
    client.send('/system/identity/print');
    expect(await client.next()).toEqual(['!fatal', 'not logged in']);
    await client.waitClosed();
  });

  it('falls back as node-routeros does: plain first, then the challenge it got', async () => {
    const client = await connect('v642');
    const [reply] = await client.command('/login', '=name=admin', '=password=admin');
    const challenge = reply![1]!.slice('=ret='.length);
    expect(
      await client.command('/login', '=name=admin', `=response=${legacyLoginResponse('admin', challenge)}`),
    ).toEqual([['!done']]);
    client.close();
  });

  it('answers a wrong response with "cannot log in" on 6.42', async () => {
    const client = await connect('v642');
    const [reply] = await client.command('/login');
    const challenge = reply![1]!.slice('=ret='.length);
    expect(
      await client.command('/login', '=name=admin', `=response=${legacyLoginResponse('wrong', challenge)}`),
    ).toEqual([['!trap', '=message=cannot log in'], ['!done']]);
    // A response without a challenge before it fails as well.
    expect(await client.command('/login', '=name=admin', '=response=00' + '0'.repeat(32))).toEqual([
      ['!trap', '=message=cannot log in'],
      ['!done'],
    ]);
    client.close();
  });
});

describe('before login', () => {
  it('answers any other command with !fatal "not logged in" and closes', async () => {
    const client = await connect('v718');
    client.send('/ip/address/print', '.tag=1');
    expect(await client.next()).toEqual(['!fatal', 'not logged in']);
    await client.waitClosed();
  });

  it('answers /quit with !fatal and closes', async () => {
    const client = await connect('v718');
    client.send('/quit');
    expect(await client.next()).toEqual(['!fatal', 'session terminated on request']);
    await client.waitClosed();
  });

  it(`ends the connection after ${MAX_SENTENCES_BEFORE_LOGIN} sentences without a login`, async () => {
    const client = await connect('v718');
    for (let i = 0; i < MAX_SENTENCES_BEFORE_LOGIN; i++) {
      expect((await client.command('/login', '=name=ops', '=password=wrong'))[0]![0]).toBe('!trap');
    }
    client.send('/login', '=name=ops', '=password=pa=ss word');
    expect(await client.next()).toEqual(['!fatal', 'too many commands before login']);
    await client.waitClosed();
  });

  it('drops a connection that sends a large unfinished sentence before login', async () => {
    const client = await connect('v718');
    // A word announcing 1 MiB (4-byte length form), then 64 KiB of it.
    client.write(Buffer.concat([Buffer.from([0xe0, 0x10, 0x00, 0x00]), Buffer.alloc(64 * 1024, 0x61)]));
    await client.waitClosed();
  });
});
