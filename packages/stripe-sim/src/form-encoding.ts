import { StripeApiError } from './stripe-error.js';

/** A decoded form value: text, or nested hashes and arrays from bracketed keys. */
export type FormValue = string | FormHash | FormValue[];
export interface FormHash {
  [key: string]: FormValue;
}

const KEY = /^([^[\]]+)((?:\[[^[\]]*\])*)$/;
const SEGMENT = /\[([^[\]]*)\]/g;
/** Deeper than any parameter of the API. */
const MAX_DEPTH = 8;
const MAX_PAIRS = 2_000;

/**
 * Decodes `application/x-www-form-urlencoded` as Stripe reads it: `a[b][0][c]=v` is
 * `{a: {b: [{c: 'v'}]}}`, `a[]=v` appends to a list. Keys and values are percent-decoded, `+` is
 * a space. A malformed body, or a key used both as a value and as a hash, is a 400.
 */
export function decodeForm(text: string): FormHash {
  const root: FormHash = Object.create(null) as FormHash;
  if (text === '') return root;
  const pairs = text.split('&');
  if (pairs.length > MAX_PAIRS) throw malformed('The request has too many parameters');
  for (const pair of pairs) {
    if (pair === '') continue;
    const at = pair.indexOf('=');
    const key = decodeComponent(at < 0 ? pair : pair.slice(0, at));
    const value = decodeComponent(at < 0 ? '' : pair.slice(at + 1));
    assign(root, pathOf(key), value, key);
  }
  return listsOf(root) as FormHash;
}

function decodeComponent(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    throw malformed('The request body is not valid form encoding');
  }
}

function pathOf(key: string): string[] {
  const match = KEY.exec(key);
  if (!match) throw malformed(`Invalid parameter name: ${key}`);
  const path = [match[1]!, ...[...match[2]!.matchAll(SEGMENT)].map((segment) => segment[1]!)];
  if (path.length > MAX_DEPTH) throw malformed(`Invalid parameter name: ${key}`);
  return path;
}

/** Intermediate form: every level a hash; `[]` segments get the next free index. */
function assign(root: FormHash, path: string[], value: string, key: string): void {
  let node = root;
  for (let i = 0; i < path.length; i++) {
    let segment = path[i]!;
    if (segment === '') segment = String(Object.keys(node).length);
    const last = i === path.length - 1;
    const existing = Object.hasOwn(node, segment) ? node[segment] : undefined;
    if (last) {
      if (existing !== undefined) throw conflicting(key);
      node[segment] = value;
      return;
    }
    if (existing === undefined) {
      const child = Object.create(null) as FormHash;
      node[segment] = child;
      node = child;
    } else if (typeof existing === 'string') {
      throw conflicting(key);
    } else {
      node = existing as FormHash;
    }
  }
}

/** Hashes whose keys are exactly 0…n-1 become lists, as Stripe reads indexed keys. */
function listsOf(value: FormValue): FormValue {
  if (typeof value === 'string' || Array.isArray(value)) return value;
  const keys = Object.keys(value);
  const converted = Object.create(null) as FormHash;
  for (const key of keys) converted[key] = listsOf(value[key]!);
  const indexed = keys.length > 0 && keys.every((key) => /^(0|[1-9]\d{0,3})$/.test(key));
  if (!indexed) return converted;
  const indices = keys.map(Number).sort((a, b) => a - b);
  if (indices.some((index, position) => index !== position)) return converted;
  return indices.map((index) => converted[String(index)]!);
}

function malformed(message: string): StripeApiError {
  return new StripeApiError(400, 'invalid_request_error', message);
}

function conflicting(key: string): StripeApiError {
  return new StripeApiError(400, 'invalid_request_error', `Invalid parameter: ${key} is given twice`, {
    param: key,
  });
}
