import { canonicalJson } from '@fleet/request-signing';

/** One field that differs between two states of an entity. */
export interface FieldChange {
  /** The field's path, its keys joined by dots: `tags`, `tls.mode`. */
  path: string;
  /** Its value in each state; null where the state does not hold it. */
  before: unknown;
  after: unknown;
}

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The fields in which two states differ, in key order at every level. Objects on both sides are
 * compared field by field, down to any depth; anything else, arrays included, is compared as a
 * whole value (so a list of tags that changed is one change, not one per index that shifted).
 * A field absent on one side counts as null there, as the JSON of a change shows it.
 */
export function diffStates(before: JsonObject, after: JsonObject): FieldChange[] {
  const changes: FieldChange[] = [];
  const walk = (left: JsonObject, right: JsonObject, prefix: string): void => {
    const keys = [...new Set([...Object.keys(left), ...Object.keys(right)])].sort();
    for (const key of keys) {
      const path = prefix === '' ? key : `${prefix}.${key}`;
      const was = left[key] ?? null;
      const is = right[key] ?? null;
      if (isObject(was) && isObject(is)) walk(was, is, path);
      else if (canonicalJson(was) !== canonicalJson(is)) changes.push({ path, before: was, after: is });
    }
  };
  walk(before, after, '');
  return changes;
}
