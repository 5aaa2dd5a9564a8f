/**
 * One JSON text per JSON value: object keys in sorted order at every depth, no whitespace.
 *
 * A signer and a verifier that each serialize "the same" payload must produce the same bytes,
 * even when the payload crossed a JSON round trip between them: a parser may hand back an
 * object's keys in another order (JavaScript puts integer-like keys first), and drops what JSON
 * cannot hold (undefined properties, functions). So the value is written as JSON.stringify
 * would see it (toJSON applied, undefined and functions left out of objects and null in arrays,
 * non-finite numbers null), with each object's keys sorted by UTF-16 code units, an order every
 * side can reproduce. Sorting by hand rather than rebuilding objects matters: a rebuilt object
 * would put its integer-like keys first again. The value is walked once, without the round trip
 * through JSON text a copy would cost: the audit log hashes every event with this.
 */
export function canonicalJson(value: unknown): string {
  const text = write(value);
  if (text === undefined) throw new TypeError('The value has no JSON form');
  return text;
}

function write(input: unknown): string | undefined {
  const value = hasToJson(input) ? input.toJSON() : input;
  switch (typeof value) {
    case 'string':
    case 'number':
    case 'boolean':
      return JSON.stringify(value);
    case 'bigint':
      throw new TypeError('A BigInt has no JSON form');
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) {
        let text = '[';
        for (let i = 0; i < value.length; i++) text += (i === 0 ? '' : ',') + (write(value[i]) ?? 'null');
        return `${text}]`;
      }
      if (value instanceof Number || value instanceof String || value instanceof Boolean) {
        return JSON.stringify(value);
      }
      const record = value as Record<string, unknown>;
      let text = '{';
      for (const key of Object.keys(record).sort()) {
        const member = write(record[key]);
        if (member !== undefined) text += `${text === '{' ? '' : ','}${JSON.stringify(key)}:${member}`;
      }
      return `${text}}`;
    }
    default:
      // undefined, functions and symbols: left out of objects, null in arrays.
      return undefined;
  }
}

function hasToJson(value: unknown): value is { toJSON(): unknown } {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { toJSON?: unknown }).toJSON === 'function'
  );
}
