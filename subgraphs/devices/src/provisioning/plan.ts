import type { Row } from '@fleet/router-api';
import type { MenuDefinition, PropertyDefinition } from '../templates/template-menus.js';
import type { DesiredMenu } from '../templates/template-spec.js';

/** One change a plan makes to one menu item. */
export type PlannedChange =
  | {
      action: 'set';
      menu: string;
      itemId: string | null;
      properties: Record<string, string>;
      before: Record<string, string>;
    }
  | { action: 'add'; menu: string; properties: Record<string, string>; placeBefore: string | null }
  | { action: 'remove'; menu: string; itemId: string; before: Record<string, string> }
  /** An ordered rule put in its place: before `placeBefore`, or at the end when null. */
  | {
      action: 'move';
      menu: string;
      itemId: string;
      placeBefore: string | null;
      before: Record<string, string>;
    };

/** Menus whose items the template does not list are left alone there, never removed. */
const KEEP_UNLISTED = new Set(['/user', '/user/group']);

/**
 * What it takes to bring a router from its live state to the desired one, menu by menu, in the
 * order the template's menus apply:
 * - a one-item menu is set where it differs;
 * - fixed items (services) are found by key and set where they differ;
 * - keyed items are added, set or removed by their primary key;
 * - ordered lists (firewall rules) keep the longest run of rules already in the right order; a
 *   rule elsewhere that is the same (or carries the same comment, unique on both sides) is set
 *   where it differs and moved into place; the others are added before the right rule or
 *   removed, so the final order is the template's.
 * Dynamic and built-in items are never touched, and a menu the template does not name is not
 * read at all. Live values are compared in RouterOS's spelling (yes/no as true/false).
 */
export function planChanges(
  desired: readonly DesiredMenu[],
  live: ReadonlyMap<string, readonly Row[]>,
): PlannedChange[] {
  const changes: PlannedChange[] = [];
  for (const { menu, items } of desired) {
    const rows = (live.get(menu.path) ?? []).filter((row) => !isDynamic(row));
    switch (menu.kind) {
      case 'single':
        changes.push(...setWhereDifferent(menu, rows[0] ?? {}, items[0]!, null));
        break;
      case 'fixed':
      case 'keyed':
        changes.push(...planKeyed(menu, rows, items));
        break;
      case 'ordered':
        changes.push(...planOrdered(menu, rows, items));
        break;
    }
  }
  return changes;
}

function planKeyed(
  menu: MenuDefinition,
  rows: readonly Row[],
  items: readonly Record<string, string>[],
): PlannedChange[] {
  const changes: PlannedChange[] = [];
  const keyOf = (values: Record<string, string>) =>
    menu.key!.map((name) => normalize(values[menu.properties[name]!.ros] ?? '')).join('\u0000');
  const byKey = new Map(rows.map((row) => [keyOf(row), row]));
  const wanted = new Set<string>();
  for (const item of items) {
    const key = keyOf(item);
    wanted.add(key);
    const row = byKey.get(key);
    if (row) changes.push(...setWhereDifferent(menu, row, item, row['.id'] ?? null));
    else if (menu.kind === 'keyed')
      changes.push({ action: 'add', menu: menu.path, properties: item, placeBefore: null });
  }
  if (menu.kind === 'keyed' && !KEEP_UNLISTED.has(menu.path)) {
    for (const row of rows) {
      if (!wanted.has(keyOf(row)) && !isBuiltIn(row)) {
        changes.push({ action: 'remove', menu: menu.path, itemId: row['.id']!, before: shown(menu, row) });
      }
    }
  }
  return changes;
}

function planOrdered(
  menu: MenuDefinition,
  rows: readonly Row[],
  items: readonly Record<string, string>[],
): PlannedChange[] {
  // A rule is the same rule when every property templates know matches, an absent one standing
  // for its default: a live rule that matches on more (a protocol, say) is another rule.
  const identical = (row: Row, item: Record<string, string>) =>
    Object.values(menu.properties).every(
      (property) => comparable(property, row[property.ros]) === comparable(property, item[property.ros]),
    );
  // Or it is the rule of that comment, when the comment names one rule on each side and setting
  // the template's properties is enough to make them identical.
  const once = (comments: readonly string[]) => {
    const counts = new Map<string, number>();
    for (const comment of comments) counts.set(comment, (counts.get(comment) ?? 0) + 1);
    return (comment: string) => comment !== '' && counts.get(comment) === 1;
  };
  const uniqueInRows = once(rows.map((row) => row.comment ?? ''));
  const uniqueInItems = once(items.map((item) => item.comment ?? ''));
  const namedAlike = (row: Row, item: Record<string, string>) => {
    const comment = item.comment ?? '';
    return (
      comment === (row.comment ?? '') &&
      uniqueInRows(comment) &&
      uniqueInItems(comment) &&
      Object.values(menu.properties).every(
        (property) =>
          item[property.ros] !== undefined ||
          comparable(property, row[property.ros]) === comparable(property, undefined),
      )
    );
  };
  const same = (row: Row, item: Record<string, string>) => identical(row, item) || namedAlike(row, item);

  // Rules already in order stay where they are; the others of the template find their rule.
  const rowOf = new Map<number, number>();
  const anchored = new Set<number>();
  for (const [row, item] of longestCommonRun(rows, items, same)) {
    rowOf.set(item, row);
    anchored.add(item);
  }
  const taken = new Set(rowOf.values());
  for (const match of [identical, namedAlike]) {
    for (let item = 0; item < items.length; item++) {
      if (rowOf.has(item)) continue;
      const row = rows.findIndex((candidate, at) => !taken.has(at) && match(candidate, items[item]!));
      if (row === -1) continue;
      rowOf.set(item, row);
      taken.add(row);
    }
  }

  const changes: PlannedChange[] = [];
  for (let row = 0; row < rows.length; row++) {
    if (!taken.has(row)) {
      changes.push({
        action: 'remove',
        menu: menu.path,
        itemId: rows[row]!['.id']!,
        before: shown(menu, rows[row]!),
      });
    }
  }
  for (const [item, row] of rowOf) {
    changes.push(...setWhereDifferent(menu, rows[row]!, items[item]!, rows[row]!['.id'] ?? null));
  }
  // Each rule not anchored goes before the next anchored rule (or to the end), in the template's
  // order: after every change, the anchored rules and those placed stand in the template's order.
  for (let item = 0; item < items.length; item++) {
    if (anchored.has(item)) continue;
    let next: string | null = null;
    for (let later = item + 1; later < items.length; later++) {
      if (anchored.has(later)) {
        next = rows[rowOf.get(later)!]!['.id'] ?? null;
        break;
      }
    }
    const row = rowOf.get(item);
    changes.push(
      row === undefined
        ? { action: 'add', menu: menu.path, properties: items[item]!, placeBefore: next }
        : {
            action: 'move',
            menu: menu.path,
            itemId: rows[row]!['.id']!,
            placeBefore: next,
            before: shown(menu, rows[row]!),
          },
    );
  }
  return changes;
}

/** Pairs [row, item] of the longest sequence equal in both, in order (dynamic programming). */
export function longestCommonRun<A, B>(
  a: readonly A[],
  b: readonly B[],
  same: (x: A, y: B) => boolean,
): [number, number][] {
  const lengths = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      lengths[i]![j] = same(a[i]!, b[j]!)
        ? lengths[i + 1]![j + 1]! + 1
        : Math.max(lengths[i + 1]![j]!, lengths[i]![j + 1]!);
    }
  }
  const pairs: [number, number][] = [];
  for (let i = 0, j = 0; i < a.length && j < b.length;) {
    if (same(a[i]!, b[j]!)) pairs.push([i++, j++]);
    else if (lengths[i + 1]![j]! >= lengths[i]![j + 1]!) i++;
    else j++;
  }
  return pairs;
}

function setWhereDifferent(
  menu: MenuDefinition,
  row: Row,
  item: Record<string, string>,
  itemId: string | null,
): PlannedChange[] {
  const properties: Record<string, string> = {};
  const before: Record<string, string> = {};
  const definitions = new Map(Object.values(menu.properties).map((property) => [property.ros, property]));
  for (const [name, value] of Object.entries(item)) {
    const property = definitions.get(name)!;
    if (comparable(property, row[name]) === comparable(property, value)) continue;
    properties[name] = value;
    before[name] = row[name] ?? '';
  }
  return Object.keys(properties).length === 0
    ? []
    : [{ action: 'set', menu: menu.path, itemId, properties, before }];
}

/** The template's properties of a live item, as shown in a plan. */
function shown(menu: MenuDefinition, row: Row): Record<string, string> {
  const values: Record<string, string> = {};
  for (const property of Object.values(menu.properties)) {
    const value = row[property.ros];
    if (value !== undefined && value !== '') values[property.ros] = value;
  }
  return values;
}

function isDynamic(row: Row): boolean {
  return normalize(row.dynamic ?? '') === 'true';
}

function isBuiltIn(row: Row): boolean {
  return normalize(row.builtin ?? '') === 'true' || normalize(row.default ?? '') === 'true';
}

/** A value as compared: one spelling, and an absent true/false as false. */
function comparable(property: PropertyDefinition, value: string | undefined): string {
  const normalized = normalize(value ?? '');
  return normalized === '' && property.kind === 'bool' ? 'false' : normalized;
}

/** One spelling per value: RouterOS answers true/false and accepts yes/no. */
function normalize(value: string): string {
  if (value === 'yes') return 'true';
  if (value === 'no') return 'false';
  return value;
}
