const STRING_FIELD = 0x01;
const NUMBER_FIELD = 0x02;
/** Lone UTF-16 surrogates: UTF-8 would turn each into U+FFFD, so two strings could encode alike. */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * Length-prefixed canonical encoding of authenticated data: a label then each field as 4-byte
 * big-endian length + UTF-8; distinct inputs never collide.
 *
 * Exactly: the label as length + UTF-8, then per field one type byte (1 string, 2 number), its
 * length and its UTF-8 (a number as its decimal digits). Lengths keep ('ab', 'c') apart from
 * ('a', 'bc'), which plain concatenation would not; the type byte keeps 1 apart from '1'. Numbers
 * must be safe integers and strings well-formed Unicode, so every input has exactly one encoding.
 */
export function canonicalAad(label: string, fields: readonly (string | number)[]): Buffer {
  const parts: Buffer[] = [lengthPrefixed(checkedText(label))];
  for (const field of fields) {
    if (typeof field === 'number') {
      if (!Number.isSafeInteger(field))
        throw new TypeError('canonicalAad takes only safe integers as numbers');
      parts.push(Buffer.of(NUMBER_FIELD), lengthPrefixed(String(field)));
    } else if (typeof field === 'string') {
      parts.push(Buffer.of(STRING_FIELD), lengthPrefixed(checkedText(field)));
    } else {
      throw new TypeError('canonicalAad takes strings and numbers only');
    }
  }
  return Buffer.concat(parts);
}

function checkedText(text: string): string {
  if (typeof text !== 'string' || LONE_SURROGATE.test(text)) {
    throw new TypeError('canonicalAad takes well-formed Unicode text only');
  }
  return text;
}

function lengthPrefixed(text: string): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
}
