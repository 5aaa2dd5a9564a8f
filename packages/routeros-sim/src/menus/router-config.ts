import type { MenuDefinition, RouterFacts, SeedRow } from './definition.js';
import { MenuStore, storedSeed, type StoredRow } from './menu-store.js';
import { withDefaults } from './fields.js';
import { findMenu } from './table.js';

/** A change to one item: `set` for an added or changed item, `removed` when it is gone. */
export interface MenuChange {
  readonly path: string;
  readonly kind: 'set' | 'removed';
  readonly row: StoredRow;
  /** The item before a change; undefined for an added one. */
  readonly previous?: StoredRow;
}

export type ChangeListener = (change: MenuChange) => void;

const sharedSeeds = new Map<string, readonly SeedRow[]>();

function seedOf(definition: MenuDefinition, facts: RouterFacts): readonly StoredRow[] {
  const { seed } = definition;
  if (!seed) return [];
  const build = (): readonly SeedRow[] =>
    seed(facts).map((row) => ({ ...row, values: withDefaults(definition, facts, row.values) }));
  if (definition.perRouterSeed) return storedSeed(build());
  const key = `${definition.path}|${facts.profile.key}|${facts.interfaces}`;
  let rows = sharedSeeds.get(key);
  if (!rows) {
    rows = build();
    sharedSeeds.set(key, rows);
  }
  return storedSeed(rows);
}

/**
 * The configuration of one router: each menu's items, made the first time the menu is touched, and
 * the listeners of `listen` commands. Every change goes through here, so listeners and the menus
 * that follow others (connected routes) always hear of it.
 */
export class RouterConfig {
  readonly facts: RouterFacts;
  readonly #stores = new Map<string, MenuStore>();
  #listeners: Map<string, Set<ChangeListener>> | undefined;

  constructor(facts: RouterFacts) {
    this.facts = facts;
  }

  store(path: string): MenuStore {
    let store = this.#stores.get(path);
    if (!store) {
      const definition = findMenu(path);
      if (!definition) throw new Error(`no menu ${path}`);
      store = new MenuStore(definition, seedOf(definition, this.facts));
      this.#stores.set(path, store);
    }
    return store;
  }

  add(
    path: string,
    values: Readonly<Record<string, string>>,
    options?: { before?: number; locked?: boolean },
  ): StoredRow {
    const row = this.store(path).insert(values, options);
    this.#emit({ path, kind: 'set', row });
    return row;
  }

  update(path: string, id: number, values: Readonly<Record<string, string>>): StoredRow {
    const store = this.store(path);
    const previous = store.byId(id);
    const row = store.replace(id, values);
    this.#emit({ path, kind: 'set', row, previous });
    return row;
  }

  remove(path: string, id: number): void {
    const store = this.store(path);
    const row = store.byId(id);
    if (!row) return;
    store.remove(id);
    this.#emit({ path, kind: 'removed', row, previous: row });
  }

  move(path: string, ids: readonly number[], before: number | undefined): void {
    this.store(path).move(ids, before);
  }

  /** Calls the listener for every later change of the menu; returns the way to stop. */
  subscribe(path: string, listener: ChangeListener): () => void {
    this.#listeners ??= new Map();
    let set = this.#listeners.get(path);
    if (!set) {
      set = new Set();
      this.#listeners.set(path, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.#listeners?.delete(path);
    };
  }

  #emit(change: MenuChange): void {
    this.store(change.path).definition.onChange?.(change, this);
    const listeners = this.#listeners?.get(change.path);
    if (listeners) for (const listener of [...listeners]) listener(change);
  }
}
