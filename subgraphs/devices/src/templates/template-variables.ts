import { isIPv4 } from 'node:net';
import { BadUserInputError } from '@fleet/service-kit';

export const VARIABLE_TYPES = ['string', 'integer', 'port', 'ipv4', 'ipv4Cidr', 'hostname'] as const;
export type VariableType = (typeof VARIABLE_TYPES)[number];

/** A variable a template declares; each device gives its value. */
export interface VariableDeclaration {
  name: string;
  type: VariableType;
  /** Used when a device gives no value; a variable without one is required. */
  default?: string;
  description?: string;
}

export type VariableValues = Readonly<Record<string, string>>;

const NAME = /^[A-Za-z][A-Za-z0-9_]{0,31}$/;
/** `${name}` in a template's text. */
export const REFERENCE = /\$\{([^}]*)\}/g;
const HOST_NAME =
  /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;
// eslint-disable-next-line no-control-regex -- control characters are what it refuses
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const MAX_VARIABLES = 100;
const MAX_VALUE_LENGTH = 255;

/** What a value of each type must look like, as a sentence for errors. */
const EXPECTED: Record<VariableType, string> = {
  string: 'text of 0 to 255 printable characters',
  integer: 'a whole number',
  port: 'a port number (1 to 65535)',
  ipv4: 'an IPv4 address',
  ipv4Cidr: 'an IPv4 address with a prefix length, like 192.168.88.1/24',
  hostname: 'a host name',
};

export function isValueOf(type: VariableType, value: string): boolean {
  switch (type) {
    case 'string':
      return value.length <= MAX_VALUE_LENGTH && !CONTROL.test(value);
    case 'integer':
      return /^-?\d{1,15}$/.test(value);
    case 'port':
      return /^\d{1,5}$/.test(value) && Number(value) >= 1 && Number(value) <= 65535;
    case 'ipv4':
      return isIPv4(value);
    case 'ipv4Cidr': {
      const [address, prefix, ...rest] = value.split('/');
      return (
        rest.length === 0 && isIPv4(address ?? '') && /^\d{1,2}$/.test(prefix ?? '') && Number(prefix) <= 32
      );
    }
    case 'hostname':
      return HOST_NAME.test(value);
  }
}

/** Checks a template's declarations; errors name the variable (`variables.lanAddress`). */
export function validateDeclarations(input: unknown): VariableDeclaration[] {
  if (!Array.isArray(input)) throw new BadUserInputError('variables must be a list', 'variables');
  if (input.length > MAX_VARIABLES)
    throw new BadUserInputError(`at most ${MAX_VARIABLES} variables`, 'variables');
  const seen = new Set<string>();
  return input.map((raw: unknown, index) => {
    const declared = raw as Partial<VariableDeclaration> | null;
    const name = typeof declared?.name === 'string' ? declared.name : '';
    const field = NAME.test(name) ? `variables.${name}` : `variables[${index}]`;
    if (!NAME.test(name)) {
      throw new BadUserInputError('a variable name is a letter then up to 31 letters, digits or _', field);
    }
    if (seen.has(name)) throw new BadUserInputError(`${name} is declared twice`, field);
    seen.add(name);
    const type = declared?.type;
    if (!VARIABLE_TYPES.includes(type as VariableType)) {
      throw new BadUserInputError(`type must be one of ${VARIABLE_TYPES.join(', ')}`, `${field}.type`);
    }
    if (
      declared?.default !== undefined &&
      (typeof declared.default !== 'string' || !isValueOf(type as VariableType, declared.default))
    ) {
      throw new BadUserInputError(`default must be ${EXPECTED[type as VariableType]}`, `${field}.default`);
    }
    if (
      declared?.description !== undefined &&
      (typeof declared.description !== 'string' || declared.description.length > 500)
    ) {
      throw new BadUserInputError(
        'description must be text of at most 500 characters',
        `${field}.description`,
      );
    }
    return {
      name,
      type: type as VariableType,
      ...(declared?.default !== undefined ? { default: declared.default } : {}),
      ...(declared?.description !== undefined ? { description: declared.description } : {}),
    };
  });
}

/**
 * A device's values for a template's variables, checked against their types, defaults filled
 * in; errors name the variable. Values for undeclared variables are refused, not ignored.
 */
export function resolveValues(declared: readonly VariableDeclaration[], given: unknown): VariableValues {
  if (given === null || given === undefined) given = {};
  if (typeof given !== 'object' || Array.isArray(given)) {
    throw new BadUserInputError('variables must be an object of names and values', 'variables');
  }
  const values = given as Record<string, unknown>;
  const known = new Set(declared.map((declaration) => declaration.name));
  for (const name of Object.keys(values)) {
    if (!known.has(name))
      throw new BadUserInputError(`the template declares no variable ${name}`, `variables.${name}`);
  }
  const resolved: Record<string, string> = {};
  for (const declaration of declared) {
    const raw = values[declaration.name];
    const value = raw === undefined ? declaration.default : typeof raw === 'number' ? String(raw) : raw;
    if (value === undefined) {
      throw new BadUserInputError(`${declaration.name} is required`, `variables.${declaration.name}`);
    }
    if (typeof value !== 'string' || !isValueOf(declaration.type, value)) {
      throw new BadUserInputError(
        `${declaration.name} must be ${EXPECTED[declaration.type]}`,
        `variables.${declaration.name}`,
      );
    }
    resolved[declaration.name] = value;
  }
  return resolved;
}

/** The names a text refers to with `${…}`; a malformed reference is refused. */
export function referencesIn(text: string, field: string): string[] {
  const names: string[] = [];
  for (const match of text.matchAll(REFERENCE)) {
    const name = match[1]!;
    if (!NAME.test(name)) throw new BadUserInputError(`\${${name}} is not a variable reference`, field);
    names.push(name);
  }
  return names;
}

/** A text with its `${…}` replaced by the values. */
export function substitute(text: string, values: VariableValues): string {
  return text.replace(REFERENCE, (_match, name: string) => values[name] ?? '');
}
