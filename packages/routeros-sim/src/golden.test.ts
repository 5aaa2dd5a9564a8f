import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from './index.js';
import { RawClient } from './testing/raw-client.js';

/*
 * Golden tests: the reference transcripts captured from real devices, and the exact sentences the
 * routeros-client 1.1.2 library sends, written as raw bytes; the replies are compared byte for byte.
 */

/** Encodes sentences from the manual's length table, independently of the wire package (1 and 2 byte forms). */
function bytes(...sentences: string[][]): Buffer {
  const out: number[] = [];
  for (const words of sentences) {
    for (const word of words) {
      const encoded = Buffer.from(word, 'utf8');
      if (encoded.length < 0x80) out.push(encoded.length);
      else out.push(0x80 | (encoded.length >> 8), encoded.length & 0xff);
      out.push(...encoded);
    }
    out.push(0);
  }
  return Buffer.from(out);
}

/** Waits until the client has received exactly these bytes since `from`, and nothing else. */
async function expectBytes(client: RawClient, from: number, expected: Buffer): Promise<void> {
  const deadline = Date.now() + 5000;
  while (client.received.length - from < expected.length && Date.now() < deadline && !client.isClosed) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  // A moment more, so that anything sent beyond the expected bytes would show.
  await new Promise((resolve) => setTimeout(resolve, 30));
  expect(client.received.subarray(from).toString('hex')).toBe(expected.toString('hex'));
}

async function exchange(client: RawClient, request: string[][], expected: string[][]): Promise<void> {
  const from = client.received.length;
  for (const words of request) client.write(bytes(words));
  await expectBytes(client, from, bytes(...expected));
}

describe('reference transcripts from real devices', () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startSimulator({
      routers: [
        { name: 'r718', version: '7.18', users: [{ name: 'admin', password: 'secret' }] },
        { name: 'r716', version: '7.16', users: [{ name: 'admin', password: 'secret' }] },
      ],
    });
  });
  afterAll(() => sim.close());

  it('answers the literal login bytes with the literal !done bytes', async () => {
    const client = await RawClient.connect(sim.routers[0]!.port);
    // "/login" "=name=admin" "=password=secret" ".tag=a", then the empty word.
    client.write(
      Buffer.from(
        '062f6c6f67696e0b3d6e616d653d61646d696e103d70617373776f72643d736563726574062e7461673d6100',
        'hex',
      ),
    );
    // "!done" ".tag=a", then the empty word.
    await expectBytes(client, 0, Buffer.from('0521646f6e65062e7461673d6100', 'hex'));
    client.close();
  });

  it('replays the 7.18 transcript: login, add, empty print, listen, cancel, quit', async () => {
    const router = sim.routers[0]!;
    // The device of the capture had two addresses already; the new one became *3.
    const setup = await RawClient.connect(router.port);
    await setup.login('admin', 'secret');
    expect(await setup.command('/ip/address/add', '=address=10.0.0.99/24', '=interface=ether3')).toEqual([
      ['!done', '=ret=*2'],
    ]);

    const client = await RawClient.connect(router.port);
    await exchange(client, [['/login', '=name=admin', '=password=secret', '.tag=a']], [['!done', '.tag=a']]);
    await exchange(
      client,
      [['/ip/address/add', '=address=10.0.0.1/24', '=interface=ether1', '.tag=b']],
      [['!done', '.tag=b', '=ret=*3']],
    );
    await exchange(
      client,
      [['/ip/address/print', '?interface=ether9', '.tag=c']],
      [
        ['!empty', '.tag=c'],
        ['!done', '.tag=c'],
      ],
    );

    await exchange(client, [['/ip/address/listen', '.tag=10']], []);
    let from = client.received.length;
    expect(await setup.command('/ip/address/add', '=address=10.0.5.1/24', '=interface=ether2')).toEqual([
      ['!done', '=ret=*4'],
    ]);
    await expectBytes(
      client,
      from,
      bytes([
        '!re',
        '.tag=10',
        '=.id=*4',
        '=address=10.0.5.1/24',
        '=network=10.0.5.0',
        '=interface=ether2',
        '=actual-interface=ether2',
        '=invalid=false',
        '=dynamic=false',
        '=disabled=false',
      ]),
    );
    from = client.received.length;
    expect(await setup.command('/ip/address/remove', '=.id=*4')).toEqual([['!done']]);
    await expectBytes(client, from, bytes(['!re', '.tag=10', '=.id=*4', '=.dead=yes']));

    await exchange(
      client,
      [['/cancel', '=tag=10', '.tag=20']],
      [
        ['!trap', '.tag=10', '=category=2', '=message=interrupted'],
        ['!done', '.tag=20'],
        ['!done', '.tag=10'],
      ],
    );
    await exchange(client, [['/quit']], [['!fatal', 'session terminated on request']]);
    await client.waitClosed();
    setup.close();
  });

  it('answers an empty print with a bare !done before 7.18', async () => {
    const client = await RawClient.connect(sim.routers[1]!.port);
    await exchange(client, [['/login', '=name=admin', '=password=secret', '.tag=a']], [['!done', '.tag=a']]);
    await exchange(client, [['/ip/address/print', '?interface=ether9', '.tag=c']], [['!done', '.tag=c']]);
    client.close();
  });
});

describe('the sentences routeros-client 1.1.2 sends', () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startSimulator({ routers: [{ name: 'edge', users: [{ name: 'admin', password: 'pw' }] }] });
  });
  afterAll(() => sim.close());

  // node-routeros appends `.tag=<channel id>` as the last word of every sentence.
  it('serves login, getOnly, add, where, update, remove and a stopped listen stream', async () => {
    const client = await RawClient.connect(sim.routers[0]!.port);
    await exchange(
      client,
      [['/login', '=name=admin', '=password=pw', '.tag=q1w2e3']],
      [['!done', '.tag=q1w2e3']],
    );
    await exchange(
      client,
      [['/system/identity/print', '.tag=a1']],
      [
        ['!re', '.tag=a1', '=name=edge'],
        ['!done', '.tag=a1'],
      ],
    );
    await exchange(
      client,
      [['/ip/address/add', '=address=10.0.2.1/24', '=interface=ether2', '.tag=a2']],
      [['!done', '.tag=a2', '=ret=*2']],
    );
    const row = (tag: string, ...more: string[]) => [
      '!re',
      `.tag=${tag}`,
      '=.id=*2',
      '=address=10.0.2.1/24',
      '=network=10.0.2.0',
      '=interface=ether2',
      '=actual-interface=ether2',
      '=invalid=false',
      '=dynamic=false',
      '=disabled=false',
      ...more,
    ];
    await exchange(client, [['/ip/address/print', '?.id=*2', '.tag=a3']], [row('a3'), ['!done', '.tag=a3']]);
    await exchange(
      client,
      [['/ip/address/print', '?interface=ether2', '.tag=a4']],
      [row('a4'), ['!done', '.tag=a4']],
    );
    await exchange(
      client,
      [['/ip/address/print', '?interface=ether2', '=.proplist=.id', '.tag=a5']],
      [
        ['!re', '.tag=a5', '=.id=*2'],
        ['!done', '.tag=a5'],
      ],
    );
    await exchange(
      client,
      [['/ip/address/set', '=numbers=*2', '=comment=wan', '.tag=a6']],
      [['!done', '.tag=a6']],
    );
    await exchange(
      client,
      [['/ip/address/print', '?.id=*2', '.tag=a7']],
      [row('a7', '=comment=wan'), ['!done', '.tag=a7']],
    );
    await exchange(
      client,
      [['/ip/address/print', '?.id=*2', '.tag=a8']],
      [row('a8', '=comment=wan'), ['!done', '.tag=a8']],
    );
    await exchange(client, [['/ip/address/remove', '=numbers=*2', '.tag=a9']], [['!done', '.tag=a9']]);
    expect(sim.routers[0]!.rows('/ip/address').map((address) => address['.id'])).toEqual(['*1']);

    await exchange(client, [['/ip/address/listen', '.tag=s1']], []);
    await exchange(
      client,
      [['/cancel', '=tag=s1', '.tag=c1']],
      [
        ['!trap', '.tag=s1', '=category=2', '=message=interrupted'],
        ['!done', '.tag=c1'],
        ['!done', '.tag=s1'],
      ],
    );
    client.close();
  });
});
