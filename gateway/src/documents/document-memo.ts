/**
 * Values the gateway derives from a parsed operation, computed once and reused by every request
 * that brings the same document. Apollo hands each request with the same text the same
 * `DocumentNode` from its document store (one store per schema), so the derived value is keyed by
 * the objects it was computed from (the document, the schema, the rules: held weakly, gone with
 * them) and a string for the rest (the operation's name, the variables' JSON).
 *
 * A document's string keys are bounded: past `maxKeysPerDocument` (a client sending one document
 * with ever new variables) that document's values start over.
 */
export class DocumentMemo<T> {
  readonly #root = new WeakMap<object, unknown>();
  readonly #maxKeys: number;

  constructor(maxKeysPerDocument = 64) {
    this.#maxKeys = maxKeysPerDocument;
  }

  get(objects: readonly [object, ...object[]], key: string, compute: () => T): T {
    let level = this.#root;
    for (const object of objects.slice(0, -1)) {
      let next = level.get(object) as WeakMap<object, unknown> | undefined;
      if (!next) {
        next = new WeakMap();
        level.set(object, next);
      }
      level = next;
    }
    const last = objects[objects.length - 1]!;
    let values = level.get(last) as Map<string, T> | undefined;
    if (!values) {
      values = new Map();
      level.set(last, values);
    }
    if (values.has(key)) return values.get(key)!;
    const value = compute();
    if (values.size >= this.#maxKeys) values.clear();
    values.set(key, value);
    return value;
  }
}
