/** An encryption context as KMS takes it: string keys to string values, bound to a ciphertext. */
export type EncryptionContext = Readonly<Record<string, string>>;

/**
 * The canonical bytes of an encryption context: the number of pairs, then each key and value as
 * a 4-byte big-endian length and its UTF-8, keys sorted. Lengths keep {"ab":"c"} and {"a":"bc"}
 * apart, which plain concatenation would not; sorting makes the order a client sent irrelevant.
 */
export function encodeEncryptionContext(context: EncryptionContext): Buffer {
  const keys = Object.keys(context).sort();
  const parts: Buffer[] = [uint32(keys.length)];
  for (const key of keys) {
    parts.push(lengthPrefixed(key), lengthPrefixed(context[key]!));
  }
  return Buffer.concat(parts);
}

function lengthPrefixed(text: string): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  return Buffer.concat([uint32(bytes.length), bytes]);
}

function uint32(value: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(value);
  return bytes;
}
