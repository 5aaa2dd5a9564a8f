/**
 * One JSON text per JSON value: object keys in sorted order at every depth, no whitespace.
 *
 * A signer and a verifier that each serialize "the same" payload must produce the same bytes,
 * even when the payload crossed a JSON round trip between them: a parser may hand back an
 * object's keys in another order (JavaScript puts integer-like keys first), and drops what JSON
 * cannot hold (undefined properties, functions). So the value is first reduced to what JSON
 * keeps, then written with its keys sorted by UTF-16 code units, an order every side can
 * reproduce. Sorting by hand rather than rebuilding objects matters: a rebuilt object would put
 * its integer-like keys first again.
 */
export function canonicalJson(value: unknown): string {
  const text = JSON.stringify(value);
  if (text === undefined) throw new TypeError('The value has no JSON form');
  return write(JSON.parse(text) as JsonValue);
}

type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

function write(value: JsonValue): string {
  if (Array.isArray(value)) return `[${value.map(write).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const members = Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${write(value[key]!)}`);
    return `{${members.join(',')}}`;
  }
  return JSON.stringify(value);
}
