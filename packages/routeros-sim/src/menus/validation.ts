import { Category, CommandError, Messages } from '../protocol/errors.js';
import type { MenuDefinition } from './definition.js';
import { fieldsOf } from './fields.js';
import type { RouterConfig } from './router-config.js';

export function rejectUnknownParameters(
  attributes: ReadonlyMap<string, string>,
  allowed: readonly string[],
): void {
  for (const name of attributes.keys()) {
    if (!allowed.includes(name)) throw new CommandError(Messages.unknownParameter);
  }
}

/** yes/true → 'true', no/false → 'false' (as replies print booleans); undefined for anything else. */
export function normalizeBoolean(value: string): 'true' | 'false' | undefined {
  switch (value.toLowerCase()) {
    case 'yes':
    case 'true':
      return 'true';
    case 'no':
    case 'false':
      return 'false';
    default:
      return undefined;
  }
}

/**
 * The values an add or set gives, checked and in stored form: every name a writable field of the
 * menu, booleans normalized, enumerations and references to other menus' items checked.
 */
export function writableValues(
  definition: MenuDefinition,
  config: RouterConfig,
  attributes: Iterable<[string, string]>,
): Record<string, string> {
  const fields = fieldsOf(definition, config.facts);
  const values: Record<string, string> = {};
  for (const [name, raw] of attributes) {
    const field = fields.find((candidate) => candidate.name === name);
    if (!field || field.readOnly) throw new CommandError(Messages.unknownParameter);
    let value = raw;
    if (field.type === 'bool') {
      const normalized = normalizeBoolean(raw);
      if (normalized === undefined) {
        throw new CommandError(Messages.inputDoesNotMatch(name), Category.argumentValue);
      }
      value = normalized;
    }
    if (field.values && !field.values.includes(value)) {
      throw new CommandError(Messages.inputDoesNotMatch(name), Category.argumentValue);
    }
    if (field.references && value !== '' && !isReferenced(config, field.references, value)) {
      throw new CommandError(Messages.inputDoesNotMatch(name), Category.argumentValue);
    }
    values[name] = value;
  }
  return values;
}

function isReferenced(config: RouterConfig, paths: readonly string[], name: string): boolean {
  return paths.some((path) => {
    const store = config.store(path);
    const nameField = store.definition.nameField ?? 'name';
    return store.rows().some((row) => row.values[nameField] === name);
  });
}

/** Refuses values that would give two items the same key (`failure: already have such …`). */
export function checkKey(
  definition: MenuDefinition,
  config: RouterConfig,
  values: Readonly<Record<string, string>>,
  exceptId?: number,
): void {
  const key = definition.key;
  if (!key || key.fields.some((field) => values[field] === undefined)) return;
  const clash = config
    .store(definition.path)
    .rows()
    .some((row) => row.id !== exceptId && key.fields.every((field) => row.values[field] === values[field]));
  const name = values[key.fields[0]!];
  const clashElsewhere = (key.alsoIn ?? []).some((path) =>
    config
      .store(path)
      .rows()
      .some((row) => row.values[key.fields[0]!] === name),
  );
  if (clash || clashElsewhere) throw new CommandError(key.message);
}
