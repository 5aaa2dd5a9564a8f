import type { FormHash, FormValue } from './form-encoding.js';
import { invalidParam, missingParam } from './stripe-error.js';

/** Stripe's limits on metadata. */
const METADATA_MAX_KEYS = 50;
const METADATA_MAX_KEY_LENGTH = 40;
const METADATA_MAX_VALUE_LENGTH = 500;

/**
 * The parameters of a request (or one nested hash of them), read as Stripe reads them: every
 * value arrives as text; a missing required one, a value of the wrong kind and a parameter the
 * endpoint does not know are each a 400 naming the parameter by its full bracketed name.
 */
export class Params {
  readonly #values: FormHash;
  readonly #path: string;

  constructor(values: FormHash, path = '') {
    this.#values = values;
    this.#path = path;
  }

  /** The full name of a parameter of this hash: `line_items[0][quantity]`. */
  nameOf(key: string): string {
    return this.#path ? `${this.#path}[${key}]` : key;
  }

  has(key: string): boolean {
    return Object.hasOwn(this.#values, key);
  }

  /** Refuses any parameter but these, as Stripe refuses unknown ones. */
  allow(...keys: string[]): this {
    for (const key of Object.keys(this.#values)) {
      if (!keys.includes(key)) {
        throw invalidParam(
          this.nameOf(key),
          `Received unknown parameter: ${this.nameOf(key)}`,
          'parameter_unknown',
        );
      }
    }
    return this;
  }

  string(key: string, options: { required: true; oneOf?: readonly string[]; maxLength?: number }): string;
  string(
    key: string,
    options?: { required?: false; oneOf?: readonly string[]; maxLength?: number },
  ): string | undefined;
  string(
    key: string,
    options: { required?: boolean; oneOf?: readonly string[]; maxLength?: number } = {},
  ): string | undefined {
    const value = this.#raw(key);
    const name = this.nameOf(key);
    if (value === undefined || value === '') {
      if (options.required) throw missingParam(name);
      return undefined;
    }
    if (typeof value !== 'string') throw invalidParam(name, `Invalid string: ${name} must be a string`);
    if (options.oneOf && !options.oneOf.includes(value)) {
      throw invalidParam(name, `Invalid ${name}: must be one of ${listed(options.oneOf)}`);
    }
    if (options.maxLength !== undefined && value.length > options.maxLength) {
      throw invalidParam(
        name,
        `Invalid ${name}: must be at most ${options.maxLength} characters`,
        'string_length_exceeds_maximum',
      );
    }
    return value;
  }

  integer(key: string, options: { required: true; min?: number; max?: number }): number;
  integer(key: string, options?: { required?: false; min?: number; max?: number }): number | undefined;
  integer(key: string, options: { required?: boolean; min?: number; max?: number } = {}): number | undefined {
    const value = this.#raw(key);
    const name = this.nameOf(key);
    if (value === undefined || value === '') {
      if (options.required) throw missingParam(name);
      return undefined;
    }
    if (typeof value !== 'string' || !/^-?\d{1,15}$/.test(value)) {
      throw invalidParam(
        name,
        `Invalid integer: ${typeof value === 'string' ? value : name}`,
        'parameter_invalid_integer',
      );
    }
    const number = Number(value);
    if (options.min !== undefined && number < options.min) {
      throw invalidParam(name, `This value must be greater than or equal to ${options.min}.`);
    }
    if (options.max !== undefined && number > options.max) {
      throw invalidParam(name, `This value must be less than or equal to ${options.max}.`);
    }
    return number;
  }

  boolean(key: string): boolean | undefined {
    const value = this.#raw(key);
    if (value === undefined || value === '') return undefined;
    if (value === 'true') return true;
    if (value === 'false') return false;
    throw invalidParam(
      this.nameOf(key),
      `Invalid boolean: ${typeof value === 'string' ? value : this.nameOf(key)}`,
    );
  }

  /** A nested hash, itself read as Params. */
  hash(key: string, options: { required: true }): Params;
  hash(key: string, options?: { required?: false }): Params | undefined;
  hash(key: string, options: { required?: boolean } = {}): Params | undefined {
    const value = this.#raw(key);
    const name = this.nameOf(key);
    if (value === undefined || value === '') {
      if (options.required) throw missingParam(name);
      return undefined;
    }
    if (typeof value === 'string' || Array.isArray(value))
      throw invalidParam(name, `Invalid hash: ${name} must be a hash`);
    return new Params(value, name);
  }

  /** A list of hashes (`line_items[0][…]`). */
  hashes(key: string, options: { required?: boolean; max?: number } = {}): Params[] {
    const value = this.#raw(key);
    const name = this.nameOf(key);
    if (value === undefined || value === '') {
      if (options.required) throw missingParam(name);
      return [];
    }
    if (!Array.isArray(value)) throw invalidParam(name, `Invalid array: ${name} must be an array`);
    if (options.max !== undefined && value.length > options.max) {
      throw invalidParam(name, `Invalid ${name}: at most ${options.max} entries`);
    }
    return value.map((entry, index) => {
      const entryName = `${name}[${index}]`;
      if (typeof entry === 'string' || Array.isArray(entry))
        throw invalidParam(entryName, `Invalid hash: ${entryName}`);
      return new Params(entry, entryName);
    });
  }

  /** A list of strings (`expand[0]=…`). */
  strings(key: string): string[] {
    const value = this.#raw(key);
    if (value === undefined || value === '') return [];
    if (!Array.isArray(value) || value.some((entry) => typeof entry !== 'string')) {
      throw invalidParam(this.nameOf(key), `Invalid array: ${this.nameOf(key)} must be a list of strings`);
    }
    return value as string[];
  }

  /**
   * Metadata as Stripe keeps it: text keys and values, within Stripe's limits. An empty value
   * unsets a key of `current`; an empty `metadata` unsets them all.
   */
  metadata(key: string, current: Record<string, string> = {}): Record<string, string> {
    const value = this.#raw(key);
    const name = this.nameOf(key);
    if (value === undefined) return { ...current };
    if (value === '') return {};
    if (typeof value === 'string' || Array.isArray(value))
      throw invalidParam(name, `Invalid hash: ${name} must be a hash`);
    const merged: Record<string, string> = { ...current };
    for (const [entryKey, entry] of Object.entries(value)) {
      const entryName = `${name}[${entryKey}]`;
      if (typeof entry !== 'string')
        throw invalidParam(entryName, `Invalid string: ${entryName} must be a string`);
      if (entryKey.length > METADATA_MAX_KEY_LENGTH) {
        throw invalidParam(entryName, `Metadata keys can be at most ${METADATA_MAX_KEY_LENGTH} characters`);
      }
      if (entry.length > METADATA_MAX_VALUE_LENGTH) {
        throw invalidParam(
          entryName,
          `Metadata values can be at most ${METADATA_MAX_VALUE_LENGTH} characters`,
        );
      }
      if (entry === '') delete merged[entryKey];
      else merged[entryKey] = entry;
    }
    if (Object.keys(merged).length > METADATA_MAX_KEYS) {
      throw invalidParam(name, `Metadata can have at most ${METADATA_MAX_KEYS} keys`);
    }
    return merged;
  }

  #raw(key: string): FormValue | undefined {
    return Object.hasOwn(this.#values, key) ? this.#values[key] : undefined;
  }
}

function listed(values: readonly string[]): string {
  return values.length <= 2 ? values.join(' or ') : `${values.slice(0, -1).join(', ')}, or ${values.at(-1)!}`;
}
