import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../index.js';
import { RawClient } from '../testing/raw-client.js';

let sim: Simulator;
const port = (): number => sim.routers[0]!.port;

async function loggedIn(): Promise<RawClient> {
  const client = await RawClient.connect(port());
  await client.login();
  return client;
}

/** A word with its length written in the given form, whatever its size (the router reads any form). */
function word(text: string, form: 1 | 2 | 3 | 4 | 5): Buffer {
  const body = Buffer.from(text, 'utf8');
  const n = body.length;
  const prefixes = {
    1: [n],
    2: [0x80 | (n >> 8), n & 0xff],
    3: [0xc0 | (n >> 16), (n >> 8) & 0xff, n & 0xff],
    4: [0xe0 | (n >> 24), (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff],
    5: [0xf0, n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff],
  };
  return Buffer.concat([Buffer.from(prefixes[form]), body]);
}

/** Where a word's length prefix starts in the received bytes, and its first byte. */
function prefixOf(received: Buffer, text: string): number {
  const at = received.indexOf(Buffer.from(text, 'utf8').subarray(0, 32));
  expect(at).toBeGreaterThan(0);
  return at;
}

beforeAll(async () => {
  sim = await startSimulator({ routers: 1 });
});
afterAll(() => sim.close());

describe('words and sentences', () => {
  it('reads all five length forms', async () => {
    const client = await loggedIn();
    for (const form of [1, 2, 3, 4, 5] as const) {
      const tag = `.tag=form${form}`;
      client.write(Buffer.concat([word('/system/identity/print', form), word(tag, form), Buffer.from([0])]));
      expect(await client.untilDone()).toEqual([
        ['!re', `.tag=form${form}`, '=name=router-1'],
        ['!done', `.tag=form${form}`],
      ]);
    }
    client.close();
  });

  it('writes and reads long words in the 2-, 3- and 4-byte forms', async () => {
    const client = await loggedIn();
    for (const [size, form, first] of [
      [200, 2, 0x80],
      [20_000, 3, 0xc0],
      [0x200000 + 100, 4, 0xe0],
    ] as const) {
      const comment = `c${size}-`.padEnd(size - '=comment='.length, 'x');
      const before = client.received.length;
      await client.command('/ip/address/set', '=numbers=*1', `=comment=${comment}`);
      const replies = await client.command('/ip/address/print', '=.proplist=comment');
      expect(replies[0]).toEqual(['!re', `=comment=${comment}`]);
      const received = client.received.subarray(before);
      const at = prefixOf(received, `=comment=${comment}`) - form;
      expect(received[at]! & (0xff << (8 - form))).toBe(first);
      expect(received.readUIntBE(at, form) & (2 ** (7 * form) - 1)).toBe(size);
    }
    await client.command('/ip/address/set', '=numbers=*1', '=comment=defconf');
    client.close();
  });

  it('frames sentences however the stream is cut, and answers them in order', async () => {
    const client = await loggedIn();
    const bytes = Buffer.concat([
      word('/system/identity/print', 1),
      word('.tag=a', 1),
      Buffer.from([0, 0]), // the second zero is an empty sentence: ignored
      word('#', 1),
      word('.tag=b', 1),
      Buffer.from([0]),
    ]);
    for (const byte of bytes) {
      client.write(Buffer.from([byte]));
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(await client.next()).toEqual(['!re', '.tag=a', '=name=router-1']);
    expect(await client.next()).toEqual(['!done', '.tag=a']);
    expect(await client.next()).toEqual(['!done', '.tag=b']);
    client.close();
  });

  it('keeps UTF-8 text whole', async () => {
    const client = await loggedIn();
    await client.command('/system/identity/set', '=name=Маршрутизатор-東京-🛰');
    expect(await client.command('/system/identity/print')).toEqual([
      ['!re', '=name=Маршрутизатор-東京-🛰'],
      ['!done'],
    ]);
    await client.command('/system/identity/set', '=name=router-1');
    client.close();
  });

  it('closes the connection on a control byte (0xF8 and above), before and after login', async () => {
    for (const control of [0xf8, 0xff]) {
      const fresh = await RawClient.connect(port());
      fresh.write(Buffer.from([control, 0x01, 0x02]));
      await fresh.waitClosed();
      const client = await loggedIn();
      client.write(Buffer.concat([word('/system/identity/print', 1), Buffer.from([control])]));
      await client.waitClosed();
    }
  });
});
