import { createHash } from 'node:crypto';
import type { Row } from '@fleet/router-api';
import { MENUS, type MenuDefinition } from '../templates/template-menus.js';

/** One menu of a snapshot: its configured items, normalized. */
export interface SnapshotMenu {
  /** The RouterOS menu, e.g. /ip/firewall/filter. */
  path: string;
  /** Properties by name, in name order; keyed menus sorted by key, ordered menus in their order. */
  items: Record<string, string>[];
}

/** The configuration of a device's managed menus, without noise, in the order templates apply them. */
export interface SnapshotContent {
  menus: SnapshotMenu[];
}

/**
 * Read-only state RouterOS shows beside the configuration: counters, run-time flags and values it
 * derives. Named wherever they appear; a menu's own ones are in `MENU_STATE`.
 */
const STATE = new Set([
  'dynamic',
  'invalid',
  'inactive',
  'active',
  'running',
  'builtin',
  'default',
  'bytes',
  'packets',
  'uptime',
  'status',
  'last-logged-in',
  'actual-interface',
]);

const MENU_STATE: Readonly<Record<string, readonly string[]>> = {
  '/ip/dns': ['dynamic-servers', 'cache-used'],
  '/ip/route': ['static', 'connect', 'ecmp', 'hw-offloaded', 'immediate-gw', 'local-address'],
  '/ip/address': ['slave'],
  '/ip/dhcp-server': ['authoritative-ip'],
  '/system/ntp/client': [
    'freq-drift',
    'synced-server',
    'synced-stratum',
    'system-offset',
    'last-update-from',
  ],
};

/** Properties that hold secrets: never kept, should a router ever print one. */
const SECRETS = new Set([
  'password',
  'secret',
  'private-key',
  'authentication-password',
  'encryption-password',
]);

/**
 * The configuration in what a router printed of every menu templates know: API attributes
 * (`.id`, `.nextid`, …), read-only state and secrets left out, empty values left out (RouterOS
 * prints an unset property empty or not at all), dynamic items left out (the router makes them:
 * connected routes, leases), and built-in items of keyed and ordered menus left out (the
 * router's own defaults; fixed menus such as services are all built-in, and their settings are
 * the configuration). Keyed menus are sorted by their key, so the router's item order (the order
 * items happened to be added) is not a change; ordered menus keep their order, which is.
 * A menu the router does not have is absent.
 */
export function normalizeSnapshot(live: ReadonlyMap<string, readonly Row[]>): SnapshotContent {
  const menus: SnapshotMenu[] = [];
  for (const menu of MENUS) {
    const rows = live.get(menu.path);
    if (!rows) continue;
    const items = rows
      .filter(
        (row) => !flag(row.dynamic) && (menu.kind === 'single' || menu.kind === 'fixed' || !builtIn(row)),
      )
      .map((row) => configuration(menu.path, row));
    if (menu.kind === 'single') items.splice(1);
    if (menu.kind === 'fixed' || menu.kind === 'keyed')
      items.sort(
        (a, b) => compare(keyOf(menu, a), keyOf(menu, b)) || compare(JSON.stringify(a), JSON.stringify(b)),
      );
    menus.push({ path: menu.path, items });
  }
  return { menus };
}

/** The properties that identify an item of a menu (fixed and keyed menus), joined. */
export function keyOf(menu: MenuDefinition, item: Readonly<Record<string, string>>): string {
  return (menu.key ?? []).map((name) => item[menu.properties[name]!.ros] ?? '').join('\u0000');
}

/**
 * The one serialization of a snapshot its digest is of: JSON with every object's properties in
 * name order, so that equal configurations serialize, and digest, alike.
 */
export function serializeSnapshot(content: SnapshotContent): string {
  return JSON.stringify({
    menus: content.menus.map((menu) => ({ path: menu.path, items: menu.items.map(sortedProperties) })),
  });
}

/** SHA-256 of the serialization, hex. */
export function digestOf(serialized: string): string {
  return createHash('sha256').update(serialized, 'utf8').digest('hex');
}

export function parseSnapshot(serialized: string): SnapshotContent {
  return JSON.parse(serialized) as SnapshotContent;
}

function configuration(path: string, row: Row): Record<string, string> {
  const own = MENU_STATE[path] ?? [];
  const kept: Record<string, string> = {};
  for (const [name, value] of Object.entries(row)) {
    if (name.startsWith('.') || value === '' || STATE.has(name) || SECRETS.has(name) || own.includes(name))
      continue;
    kept[name] = value;
  }
  return sortedProperties(kept);
}

function sortedProperties(item: Readonly<Record<string, string>>): Record<string, string> {
  const sorted: Record<string, string> = {};
  for (const name of Object.keys(item).sort(compare)) sorted[name] = item[name]!;
  return sorted;
}

/** Code-point order, the same on every machine (no locale). */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function flag(value: string | undefined): boolean {
  return value === 'true' || value === 'yes';
}

function builtIn(row: Row): boolean {
  return flag(row.builtin) || flag(row.default);
}
