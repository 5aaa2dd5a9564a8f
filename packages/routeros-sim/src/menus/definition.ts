import type { MenuCommand } from '../protocol/command-context.js';
import type { VersionProfile } from '../protocol/versions.js';
import type { MenuChange, RouterConfig } from './router-config.js';

/** One property of a menu's items. */
export interface FieldDefinition {
  readonly name: string;
  /** `bool` values are stored and printed as `true`/`false` and accepted as yes/no/true/false. */
  readonly type?: 'text' | 'bool';
  /** Given to new items that do not set it; without one the property is absent until set. */
  readonly default?: string;
  /** Printed, never accepted by add or set. */
  readonly readOnly?: boolean;
  /** Accepted by add and set, never printed (passwords). */
  readonly secret?: boolean;
  /** add fails without it. */
  readonly required?: boolean;
  /** The value must be the name of an item of one of these menus. */
  readonly references?: readonly string[];
  /** The only values accepted. */
  readonly values?: readonly string[];
  /** Only on routers of this major version. */
  readonly major?: 6 | 7;
}

export type Verb =
  'print' | 'getall' | 'listen' | 'add' | 'set' | 'remove' | 'enable' | 'disable' | 'unset' | 'move';

/** What a router is, as far as seeds and volatile values need to know. */
export interface RouterFacts {
  readonly name: string;
  /** Position in its simulator; varies counters, serial numbers and addresses between routers. */
  readonly index: number;
  readonly profile: VersionProfile;
  /** Number of ethernet interfaces. */
  readonly interfaces: number;
  /** Milliseconds since the epoch when the router last (re)booted. */
  readonly bootTime: number;
  /** The release installed now, e.g. '7.18.2' (changes with /system/package/update/install). */
  readonly installedVersion: string;
  /** The users the router was made with (its /user menu starts with them). */
  readonly users: readonly { readonly name: string; readonly password: string; readonly group: string }[];
  now(): number;
}

/** An item of a menu as the simulator starts with it. */
export interface SeedRow {
  readonly values: Readonly<Record<string, string>>;
  /** Built-in or dynamic: remove is refused with the menu's lockedMessage. */
  readonly locked?: boolean;
}

export interface MenuKey {
  /** Two items may not have the same values of these fields. */
  readonly fields: readonly string[];
  /** The `!trap` message of a duplicate. */
  readonly message: string;
  /** Other menus sharing the namespace (a bridge's name may not be an ethernet's). */
  readonly alsoIn?: readonly string[];
}

/** A menu: a row of the menu table. Adding a menu is adding one of these. */
export interface MenuDefinition {
  /** The API path, e.g. `/ip/address`. */
  readonly path: string;
  /** One item, printed without `.id`; set takes no id. */
  readonly singleValue?: boolean;
  /** A menu with commands only (no items, no print), e.g. `/system` for reboot. */
  readonly commandsOnly?: boolean;
  readonly fields: readonly FieldDefinition[];
  /** The standard commands offered; by default every one that fits the menu's shape. */
  readonly verbs?: readonly Verb[];
  /** Item order matters (firewall rules): add takes place-before, move is offered. */
  readonly ordered?: boolean;
  /** Items may be addressed by this field's value instead of `.id`. */
  readonly nameField?: string;
  readonly key?: MenuKey;
  /** add without a name names the item `<autoName><n>` (bridge1, pool1, …). */
  readonly autoName?: string;
  /** The `!trap` message when removing a built-in or dynamic item. */
  readonly lockedMessage?: string;
  /** Items a new router has. Unless perRouterSeed, seeds are built once and shared by routers alike. */
  readonly seed?: (facts: RouterFacts) => readonly SeedRow[];
  /** The seed depends on the router itself (its name), not only on version and interface count. */
  readonly perRouterSeed?: boolean;
  /** Values an add or set implies (an address's network). */
  readonly derive?: (values: Readonly<Record<string, string>>) => Record<string, string>;
  /** Values computed when read (counters, uptime), laid over the stored ones. */
  readonly live?: (values: Readonly<Record<string, string>>, facts: RouterFacts) => Record<string, string>;
  /** Commands beyond the standard ones, by name. */
  readonly commands?: Readonly<Record<string, MenuCommand>>;
  /** Keeps other menus in step after a change here (an address's connected route). */
  readonly onChange?: (change: MenuChange, config: RouterConfig) => void;
}
