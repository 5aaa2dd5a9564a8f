/**
 * The RouterOS API's word length prefix: one to five bytes, most significant first.
 *
 *   0x00000000 – 0x0000007F   1 byte    0xxxxxxx
 *   0x00000080 – 0x00003FFF   2 bytes   10xxxxxx …
 *   0x00004000 – 0x001FFFFF   3 bytes   110xxxxx …
 *   0x00200000 – 0x0FFFFFFF   4 bytes   1110xxxx …
 *   0x10000000 – 0xFFFFFFFF   5 bytes   11110000, then the length in 4 bytes
 *
 * A first byte of 0xF8 or more is a reserved control byte, which no peer may send.
 */

export class WireError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WireError';
  }
}

export const MAX_WORD_LENGTH = 0xffffffff;

export function encodeLength(length: number): Buffer {
  if (!Number.isInteger(length) || length < 0 || length > MAX_WORD_LENGTH) {
    throw new WireError(`word length ${length} cannot be encoded`);
  }
  if (length < 0x80) return Buffer.from([length]);
  if (length < 0x4000) {
    const out = Buffer.alloc(2);
    out.writeUInt16BE(length | 0x8000);
    return out;
  }
  if (length < 0x200000) {
    const value = length | 0xc00000;
    return Buffer.from([value >>> 16, (value >>> 8) & 0xff, value & 0xff]);
  }
  if (length < 0x10000000) {
    const out = Buffer.alloc(4);
    out.writeUInt32BE((length | 0xe0000000) >>> 0);
    return out;
  }
  const out = Buffer.alloc(5);
  out[0] = 0xf0;
  out.writeUInt32BE(length, 1);
  return out;
}

/**
 * Reads a length prefix at `offset`. Returns undefined when the buffer ends before the prefix
 * does; throws WireError on a control byte.
 */
export function decodeLength(buffer: Buffer, offset: number): { length: number; size: number } | undefined {
  if (offset >= buffer.length) return undefined;
  const first = buffer[offset]!;
  const size =
    first < 0x80 ? 1 : first < 0xc0 ? 2 : first < 0xe0 ? 3 : first < 0xf0 ? 4 : first === 0xf0 ? 5 : 0;
  if (size === 0)
    throw new WireError(`control byte 0x${first.toString(16)} where a word length was expected`);
  if (offset + size > buffer.length) return undefined;
  switch (size) {
    case 1:
      return { length: first, size };
    case 2:
      return { length: buffer.readUInt16BE(offset) & 0x3fff, size };
    case 3:
      return { length: ((first & 0x1f) << 16) | buffer.readUInt16BE(offset + 1), size };
    case 4:
      return { length: buffer.readUInt32BE(offset) & 0x0fffffff, size };
    default:
      return { length: buffer.readUInt32BE(offset + 1), size };
  }
}
