/**
 * Typed configuration from environment variables.
 *
 * A service declares its variables once, as data: name, kind, default and meaning. The same
 * declaration validates the environment at start (listing every problem, not the first), types
 * the result, documents the README's configuration table and lets tests check that every
 * deployment passes every required variable.
 */

export interface Variable<T> {
  readonly doc: string;
  /** Written into the README; never shown for secrets. */
  readonly defaultText: string | undefined;
  readonly required: boolean;
  readonly secret: boolean;
  parse(raw: string | undefined): { value: T } | { error: string };
}

export type ConfigSpec = Record<string, Variable<unknown>>;
export type ConfigOf<S extends ConfigSpec> = { [K in keyof S]: S[K] extends Variable<infer T> ? T : never };

export class ConfigError extends Error {
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/**
 * Reads every variable of the spec, each from the environment variable `prefix + key`, and
 * throws one ConfigError naming every bad variable.
 */
export function loadConfig<S extends ConfigSpec>(
  spec: S,
  prefix: string,
  env: NodeJS.ProcessEnv = process.env,
): ConfigOf<S> {
  const values: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [key, variable] of Object.entries(spec)) {
    const name = prefix + key;
    const raw = env[name];
    const result = variable.parse(raw === '' ? undefined : raw);
    if ('error' in result) problems.push(`${name}: ${result.error}`);
    else values[key] = result.value;
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return values as ConfigOf<S>;
}

interface Options<T> {
  doc: string;
  default?: T;
}

function variable<T>(
  options: Options<T> & { secret?: boolean; optional?: boolean },
  describe: (value: T) => string,
  parse: (raw: string) => { value: T } | { error: string },
): Variable<T> {
  const hasDefault = options.default !== undefined;
  return {
    doc: options.doc,
    defaultText: hasDefault ? describe(options.default as T) : undefined,
    required: !hasDefault && !options.optional,
    secret: options.secret ?? false,
    parse(raw) {
      if (raw === undefined) {
        if (hasDefault) return { value: options.default as T };
        if (options.optional) return { value: undefined as T };
        return { error: 'is required' };
      }
      return parse(raw);
    },
  };
}

export function string(options: Options<string> & { pattern?: RegExp }): Variable<string> {
  return variable<string>(options, String, (raw) =>
    options.pattern && !options.pattern.test(raw)
      ? { error: `must match ${String(options.pattern)}` }
      : { value: raw },
  );
}

/** A text that may be left unset (undefined), such as a path with a fallback elsewhere. */
export function optionalString(options: { doc: string }): Variable<string | undefined> {
  return variable<string | undefined>({ ...options, optional: true }, String, (raw) => ({ value: raw }));
}

export function integer(options: Options<number> & { min: number; max: number }): Variable<number> {
  return variable<number>(options, String, (raw) => {
    if (!/^-?\d+$/.test(raw)) return { error: `must be a whole number, got "${raw}"` };
    const value = Number(raw);
    if (value < options.min || value > options.max) {
      return { error: `must be between ${options.min} and ${options.max}, got ${value}` };
    }
    return { value };
  });
}

export function port(options: Options<number>): Variable<number> {
  return integer({ ...options, min: 0, max: 65535 });
}

export function oneOf<const T extends string>(values: readonly T[], options: Options<T>): Variable<T> {
  return variable<T>(options, String, (raw) =>
    (values as readonly string[]).includes(raw)
      ? { value: raw as T }
      : { error: `must be one of ${values.join(', ')}, got "${raw}"` },
  );
}

export function boolean(options: Options<boolean>): Variable<boolean> {
  return variable<boolean>(options, String, (raw) => {
    if (raw === 'true' || raw === '1') return { value: true };
    if (raw === 'false' || raw === '0') return { value: false };
    return { error: `must be true or false, got "${raw}"` };
  });
}

/**
 * An http(s) URL; the value is kept without a trailing slash. An optional one without a default
 * is undefined when unset.
 */
export function url(options: Options<string> & { optional: true }): Variable<string | undefined>;
export function url(options: Options<string>): Variable<string>;
export function url(options: Options<string> & { optional?: boolean }): Variable<string | undefined> {
  return variable<string | undefined>(options, String, (raw) => {
    let parsed: URL;
    try {
      parsed = new URL(raw);
    } catch {
      return { error: 'must be an absolute URL' };
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      return { error: 'must be an http or https URL' };
    }
    return { value: raw.replace(/\/+$/, '') };
  });
}

/** A PostgreSQL connection URL. Optional: unset means the embedded database. */
export function databaseUrl(options: { doc: string }): Variable<string | undefined> {
  return variable<string | undefined>({ ...options, optional: true, secret: true }, String, (raw) => {
    try {
      const parsed = new URL(raw);
      if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
        return { error: 'must be a postgres:// URL' };
      }
    } catch {
      // The value may hold a password: never echo it.
      return { error: 'must be a postgres:// URL' };
    }
    return { value: raw };
  });
}

/** A Redis connection URL (redis:// or rediss:// for TLS). Optional: unset means in process. */
export function redisUrl(options: { doc: string }): Variable<string | undefined> {
  return variable<string | undefined>({ ...options, optional: true, secret: true }, String, (raw) => {
    try {
      const parsed = new URL(raw);
      if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
        return { error: 'must be a redis:// or rediss:// URL' };
      }
    } catch {
      // The value may hold a password: never echo it.
      return { error: 'must be a redis:// or rediss:// URL' };
    }
    return { value: raw };
  });
}

/** A secret that must decode to at least `minBytes` bytes; errors never echo the value. */
export function secretKey(options: {
  doc: string;
  decode: (raw: string) => Buffer | { error: string };
}): Variable<Buffer> {
  return variable<Buffer>(
    { doc: options.doc, secret: true },
    () => '',
    (raw) => {
      const decoded = options.decode(raw);
      return Buffer.isBuffer(decoded) ? { value: decoded } : decoded;
    },
  );
}

/** A secret text, such as a cloud access key: optional, never echoed, never in the README. */
export function secretText(options: { doc: string }): Variable<string | undefined> {
  return variable<string | undefined>(
    { doc: options.doc, secret: true, optional: true },
    () => '',
    (raw) => ({
      value: raw,
    }),
  );
}
