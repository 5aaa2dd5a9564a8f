import { describe, expect, it } from 'vitest';
import {
  decodeLength,
  encodeLength,
  encodeSentence,
  legacyLoginResponse,
  parseCommand,
  parseReply,
  SentenceDecoder,
  WireError,
} from './index.js';

describe('word lengths', () => {
  it.each([
    [0, '00'],
    [0x7f, '7f'],
    [0x80, '8080'],
    [0x3fff, 'bfff'],
    [0x4000, 'c04000'],
    [0x1fffff, 'dfffff'],
    [0x200000, 'e0200000'],
    [0xfffffff, 'efffffff'],
    [0x10000000, 'f010000000'],
    [0xffffffff, 'f0ffffffff'],
  ])('encodes %i as %s and back', (length, hex) => {
    const encoded = encodeLength(length);
    expect(encoded.toString('hex')).toBe(hex);
    expect(decodeLength(encoded, 0)).toEqual({ length, size: encoded.length });
  });

  it('waits for the rest of a prefix cut short', () => {
    expect(decodeLength(Buffer.from([0xc0, 0x40]), 0)).toBeUndefined();
    expect(decodeLength(Buffer.from([0xf0, 0, 0]), 0)).toBeUndefined();
  });

  it.each([0xf8, 0xf9, 0xff])('refuses the control byte 0x%s', (byte) => {
    expect(() => decodeLength(Buffer.from([byte, 0]), 0)).toThrow(WireError);
  });

  it('refuses lengths it cannot encode', () => {
    expect(() => encodeLength(-1)).toThrow(WireError);
    expect(() => encodeLength(2 ** 32)).toThrow(WireError);
  });
});

describe('sentences', () => {
  const words = ['/ip/address/add', '=address=10.0.0.1/24', '=comment=Привет 你好 🚀', '.tag=7'];

  it('round-trips UTF-8 words, fed one byte at a time', () => {
    const bytes = Buffer.concat([encodeSentence(words), encodeSentence(['/quit'])]);
    const decoder = new SentenceDecoder();
    const out: string[][] = [];
    for (const byte of bytes) out.push(...decoder.push(Buffer.from([byte])));
    expect(out).toEqual([words, ['/quit']]);
    expect(decoder.pendingBytes).toBe(0);
  });

  it('decodes several sentences from one chunk and ignores empty sentences', () => {
    const bytes = Buffer.concat([
      Buffer.from([0]),
      encodeSentence(['!done']),
      encodeSentence(['!re', '=a=b']),
    ]);
    expect(new SentenceDecoder().push(bytes)).toEqual([['!done'], ['!re', '=a=b']]);
  });

  it('carries words long enough to need every prefix form up to three bytes', () => {
    const long = `=comment=${'x'.repeat(0x4100)}`;
    expect(new SentenceDecoder().push(encodeSentence(['!re', long]))).toEqual([['!re', long]]);
  });

  it('refuses oversized words and sentences', () => {
    expect(() => new SentenceDecoder({ maxWordBytes: 4 }).push(encodeSentence(['hello']))).toThrow(WireError);
    expect(() => new SentenceDecoder({ maxWords: 1 }).push(encodeSentence(['a', 'b']))).toThrow(WireError);
  });
});

describe('words', () => {
  it('splits attributes on the first = only, and reads tag and queries', () => {
    expect(
      parseCommand(['/user/add', '=name=iu=c3Eeg', '=comment=', '.tag=x', '?type=ether', '?#|']),
    ).toEqual({
      path: '/user/add',
      attributes: new Map([
        ['name', 'iu=c3Eeg'],
        ['comment', ''],
      ]),
      tag: 'x',
      queries: ['type=ether', '#|'],
    });
  });

  it('takes an empty tag for no tag', () => {
    expect(parseCommand(['/x', '.tag=']).tag).toBeUndefined();
  });

  it('reads a reply with its tag anywhere and the bare reason of a fatal', () => {
    expect(parseReply(['!re', '.tag=10', '=.id=*A', '=address=1.1.1.1/32'])).toEqual({
      type: '!re',
      tag: '10',
      attributes: { '.id': '*A', address: '1.1.1.1/32' },
      bare: [],
    });
    expect(parseReply(['!fatal', 'session terminated on request']).bare).toEqual([
      'session terminated on request',
    ]);
  });
});

describe('legacy login', () => {
  it.each([
    ['93b438ec9b80057c06dd9fe67d56aa9a', '00e134102a9d330dd7b1849fedfea3cb57'],
    ['856780b7411eefd3abadee2058c149a3', '005062f7a5ef124d34675bf3e81f56c556'],
  ])('answers the documented challenge %s', (challenge, response) => {
    expect(legacyLoginResponse('', challenge)).toBe(response);
  });
});
