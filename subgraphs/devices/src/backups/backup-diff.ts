import { longestCommonRun } from '../provisioning/plan.js';
import { MENUS, type MenuDefinition } from '../templates/template-menus.js';
import { keyOf, type SnapshotContent } from './snapshot.js';

type Item = Record<string, string>;

/** An item in both snapshots, with the properties that differ: null where one has none. */
export interface ItemChange {
  /** What identifies the item: its key (keyed menus), its comment (ordered menus), nothing (one-item menus). */
  item: Item;
  before: Record<string, string | null>;
  after: Record<string, string | null>;
}

/** A rule of an ordered menu that stands elsewhere in the list, positions counted from 0. */
export interface ItemMove {
  item: Item;
  from: number;
  to: number;
}

/** What differs in one menu between two snapshots. */
export interface MenuDiff {
  path: string;
  added: Item[];
  removed: Item[];
  changed: ItemChange[];
  moved: ItemMove[];
}

/**
 * What changed from one snapshot to another, menu by menu, for the menus that differ: items
 * matched by the menu's key (fixed and keyed menus), the one item of a one-item menu, and for
 * ordered menus (firewall rules) the longest run of rules left in order; a rule found elsewhere
 * in the list is a move, and a rule left over on both sides with the same comment is a change of
 * that rule. Two snapshots of one content have no differences.
 */
export function diffSnapshots(from: SnapshotContent, to: SnapshotContent): MenuDiff[] {
  const before = new Map(from.menus.map((menu) => [menu.path, menu.items]));
  const after = new Map(to.menus.map((menu) => [menu.path, menu.items]));
  const diffs: MenuDiff[] = [];
  for (const menu of MENUS) {
    const a = before.get(menu.path) ?? [];
    const b = after.get(menu.path) ?? [];
    const diff: MenuDiff = { path: menu.path, added: [], removed: [], changed: [], moved: [] };
    if (menu.kind === 'ordered') diffOrdered(a, b, diff);
    else diffKeyed(menu, a, b, diff);
    if (diff.added.length + diff.removed.length + diff.changed.length + diff.moved.length > 0)
      diffs.push(diff);
  }
  return diffs;
}

function diffKeyed(menu: MenuDefinition, a: readonly Item[], b: readonly Item[], diff: MenuDiff): void {
  const identify = (item: Item): Item => {
    const identity: Item = {};
    for (const name of menu.key ?? []) {
      const ros = menu.properties[name]!.ros;
      if (item[ros] !== undefined) identity[ros] = item[ros];
    }
    return identity;
  };
  const key = (item: Item) => (menu.kind === 'single' ? '' : keyOf(menu, item));
  const later = new Map(b.map((item) => [key(item), item]));
  const earlier = new Set<string>();
  for (const item of a) {
    earlier.add(key(item));
    const other = later.get(key(item));
    if (!other) diff.removed.push(item);
    else {
      const change = changeOf(identify(item), item, other);
      if (change) diff.changed.push(change);
    }
  }
  for (const item of b) if (!earlier.has(key(item))) diff.added.push(item);
}

function diffOrdered(a: readonly Item[], b: readonly Item[], diff: MenuDiff): void {
  const text = (item: Item) => JSON.stringify(item);
  const [left, right] = [a.map(text), b.map(text)];
  const inPlace = longestCommonRun(left, right, (x, y) => x === y);
  const leftOver = new Set(a.keys());
  const rightOver = new Set(b.keys());
  for (const [i, j] of inPlace) {
    leftOver.delete(i);
    rightOver.delete(j);
  }
  // The same rule out of the run: moved.
  for (const i of [...leftOver]) {
    const j = [...rightOver].find((candidate) => right[candidate] === left[i]);
    if (j === undefined) continue;
    diff.moved.push({ item: a[i]!, from: i, to: j });
    leftOver.delete(i);
    rightOver.delete(j);
  }
  // The same comment once on each side: the rule, changed.
  const byComment = (indices: Set<number>, items: readonly Item[]) => {
    const found = new Map<string, number[]>();
    for (const index of indices) {
      const comment = items[index]!.comment;
      if (comment !== undefined) found.set(comment, [...(found.get(comment) ?? []), index]);
    }
    return found;
  };
  const rightComments = byComment(rightOver, b);
  for (const [comment, indices] of byComment(leftOver, a)) {
    const others = rightComments.get(comment);
    if (indices.length !== 1 || others?.length !== 1) continue;
    const [i, j] = [indices[0]!, others[0]!];
    diff.changed.push(changeOf({ comment }, a[i]!, b[j]!)!);
    leftOver.delete(i);
    rightOver.delete(j);
  }
  for (const i of [...leftOver].sort((x, y) => x - y)) diff.removed.push(a[i]!);
  for (const j of [...rightOver].sort((x, y) => x - y)) diff.added.push(b[j]!);
}

function changeOf(item: Item, a: Item, b: Item): ItemChange | undefined {
  const before: Record<string, string | null> = {};
  const after: Record<string, string | null> = {};
  for (const name of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
    if (a[name] === b[name]) continue;
    before[name] = a[name] ?? null;
    after[name] = b[name] ?? null;
  }
  return Object.keys(before).length === 0 ? undefined : { item, before, after };
}
