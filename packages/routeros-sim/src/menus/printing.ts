import type { MenuDefinition, RouterFacts } from './definition.js';
import { fieldsOf } from './fields.js';
import { formatId, type StoredRow } from './menu-store.js';

/**
 * An item as `print` shows it: `.id` first (not in single-value menus), then the fields in the
 * menu's order, volatile values filled in, secrets left out, unset properties absent.
 */
export function printedRow(
  definition: MenuDefinition,
  row: StoredRow,
  facts: RouterFacts,
): Record<string, string> {
  const values = definition.live ? { ...row.values, ...definition.live(row.values, facts) } : row.values;
  const printed: Record<string, string> = definition.singleValue ? {} : { '.id': formatId(row.id) };
  for (const field of fieldsOf(definition, facts)) {
    const value = values[field.name];
    if (value !== undefined && !field.secret) printed[field.name] = value;
  }
  return printed;
}

/** The `=.proplist=` of a command, split; undefined when absent. */
export function proplistOf(attributes: ReadonlyMap<string, string>): readonly string[] | undefined {
  const text = attributes.get('.proplist');
  return text === undefined ? undefined : text.split(',').filter((name) => name !== '');
}

/** Keeps only the properties named (in the item's own order); all of them without a proplist. */
export function project(
  row: Readonly<Record<string, string>>,
  proplist: readonly string[] | undefined,
): Record<string, string> {
  if (!proplist) return { ...row };
  const projected: Record<string, string> = {};
  for (const [name, value] of Object.entries(row)) if (proplist.includes(name)) projected[name] = value;
  return projected;
}
