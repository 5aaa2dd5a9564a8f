import { BadUserInputError } from '@fleet/service-kit';
import { MENUS, type MenuDefinition, type PropertyDefinition } from './template-menus.js';
import {
  isValueOf,
  referencesIn,
  substitute,
  type VariableDeclaration,
  type VariableValues,
} from './template-variables.js';

/** A template's desired state: per menu, an object (one-item menus) or a list of items. */
export type TemplateSpec = Record<string, unknown>;

/** One menu's desired items, in RouterOS property names and values, variables filled in. */
export interface DesiredMenu {
  menu: MenuDefinition;
  items: Record<string, string>[];
}

const MAX_ITEMS = 1_000;
const MAX_TEXT = 255;
// eslint-disable-next-line no-control-regex -- control characters are what it refuses
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * Checks a template's desired state against the menus templates know and the variables the
 * template declares; errors name the place (`spec.firewallFilter[2].action`). Values that hold
 * no variable are checked here already; the others once a device's values fill them in.
 */
export function validateSpec(input: unknown, declared: readonly VariableDeclaration[]): TemplateSpec {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new BadUserInputError('spec must be an object of menus', 'spec');
  }
  const names = new Set(declared.map((declaration) => declaration.name));
  for (const [menuName, value] of Object.entries(input)) {
    const menu = MENUS.find((candidate) => candidate.name === menuName);
    const field = `spec.${menuName}`;
    if (!menu) throw new BadUserInputError(`templates know no menu ${menuName}`, field);
    const items = itemsOf(menu, value, field);
    items.forEach((item, index) =>
      checkItem(menu, item, menu.kind === 'single' ? field : `${field}[${index}]`, names),
    );
  }
  return input as TemplateSpec;
}

/** The desired state for one device: the spec with the device's values, checked again. */
export function renderSpec(spec: TemplateSpec, values: VariableValues): DesiredMenu[] {
  const desired: DesiredMenu[] = [];
  for (const menu of MENUS) {
    if (!(menu.name in spec)) continue;
    const field = `spec.${menu.name}`;
    const items = itemsOf(menu, spec[menu.name], field).map((item, index) =>
      renderItem(menu, item, menu.kind === 'single' ? field : `${field}[${index}]`, values),
    );
    checkKeys(menu, items, field);
    desired.push({ menu, items });
  }
  return desired;
}

function itemsOf(menu: MenuDefinition, value: unknown, field: string): Record<string, unknown>[] {
  if (menu.kind === 'single') {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new BadUserInputError(`${menu.name} is one object`, field);
    }
    return [value as Record<string, unknown>];
  }
  if (!Array.isArray(value)) throw new BadUserInputError(`${menu.name} is a list`, field);
  if (value.length > MAX_ITEMS)
    throw new BadUserInputError(`${menu.name} holds at most ${MAX_ITEMS} items`, field);
  return value.map((item: unknown, index) => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      throw new BadUserInputError('each item is an object', `${field}[${index}]`);
    }
    return item as Record<string, unknown>;
  });
}

function checkItem(
  menu: MenuDefinition,
  item: Record<string, unknown>,
  field: string,
  variables: ReadonlySet<string>,
) {
  for (const name of Object.keys(item)) {
    if (!(name in menu.properties))
      throw new BadUserInputError(`${menu.name} has no property ${name}`, `${field}.${name}`);
  }
  for (const [name, property] of Object.entries(menu.properties)) {
    const value = item[name];
    const at = `${field}.${name}`;
    if (value === undefined) {
      if (property.required) throw new BadUserInputError(`${name} is required`, at);
      continue;
    }
    const texts = textsOf(property, value, at);
    for (const text of texts) {
      for (const reference of referencesIn(text, at)) {
        if (!variables.has(reference)) {
          throw new BadUserInputError(`\${${reference}} is not a variable of this template`, at);
        }
      }
      if (referencesIn(text, at).length === 0) checkValue(property, text, at, undefined);
    }
  }
}

function renderItem(
  menu: MenuDefinition,
  item: Record<string, unknown>,
  field: string,
  values: VariableValues,
): Record<string, string> {
  const rendered: Record<string, string> = {};
  for (const [name, property] of Object.entries(menu.properties)) {
    const value = item[name];
    if (value === undefined) continue;
    const at = `${field}.${name}`;
    const texts = textsOf(property, value, at).map((text) => {
      const filled = substitute(text, values);
      checkValue(property, filled, at, referencesIn(text, at)[0]);
      return filled;
    });
    rendered[property.ros] = property.kind === 'list' ? texts.join(',') : texts[0]!;
  }
  return rendered;
}

/** A property's value as the texts to fill in: a list's entries, or the one value. */
function textsOf(property: PropertyDefinition, value: unknown, field: string): string[] {
  switch (property.kind) {
    case 'list':
      if (!Array.isArray(value) || value.some((entry) => typeof entry !== 'string') || value.length > 64) {
        throw new BadUserInputError('must be a list of at most 64 texts', field);
      }
      return value as string[];
    case 'bool':
      if (typeof value === 'boolean') return [String(value)];
      break;
    case 'int':
      if (typeof value === 'number' && Number.isSafeInteger(value)) return [String(value)];
      break;
    case 'text':
      if (typeof value === 'string') return [value];
      throw new BadUserInputError('must be text', field);
  }
  // A boolean or a number may also come from a variable: "${enableSnmp}".
  if (typeof value === 'string' && /^\$\{[^}]*\}$/.test(value)) return [value];
  throw new BadUserInputError(
    `must be ${property.kind === 'bool' ? 'true or false' : 'a whole number'}`,
    field,
  );
}

/** Checks a value with no variable left in it; `variable` names where it came from, if anywhere. */
function checkValue(
  property: PropertyDefinition,
  value: string,
  field: string,
  variable: string | undefined,
) {
  const from = variable ? ` (from \${${variable}})` : '';
  const fail = (expected: string): never => {
    throw new BadUserInputError(
      `${field.replace(/^spec\./, '')} must be ${expected}${from}`,
      variable ? `variables.${variable}` : field,
    );
  };
  if (value.length > MAX_TEXT || CONTROL.test(value)) fail(`at most ${MAX_TEXT} printable characters`);
  if (property.kind === 'bool' && value !== 'true' && value !== 'false') fail('true or false');
  if (property.kind === 'int' && !/^-?\d{1,15}$/.test(value)) fail('a whole number');
  if (property.values && !property.values.includes(value)) fail(`one of ${property.values.join(', ')}`);
  if (property.format && !isValueOf(property.format, value)) fail(`a valid ${property.format}`);
}

/** Two items of a keyed menu may not share a key once rendered. */
function checkKeys(menu: MenuDefinition, items: Record<string, string>[], field: string): void {
  if (!menu.key) return;
  const seen = new Set<string>();
  items.forEach((item, index) => {
    const key = menu.key!.map((name) => item[menu.properties[name]!.ros] ?? '').join('\u0000');
    if (seen.has(key)) {
      throw new BadUserInputError(
        `two ${menu.name} items share ${menu.key!.join(' and ')}`,
        `${field}[${index}]`,
      );
    }
    seen.add(key);
  });
}
