import type { MenuDefinition, SeedRow } from './definition.js';

/** An item as stored: its number (printed `*HEX`) and its values. Items are never changed in place. */
export interface StoredRow {
  readonly id: number;
  readonly values: Readonly<Record<string, string>>;
  /** Built-in or dynamic: refuses removal. */
  readonly locked: boolean;
}

export function formatId(id: number): string {
  return `*${id.toString(16).toUpperCase()}`;
}

export function parseId(text: string): number | undefined {
  return /^\*[0-9A-Fa-f]+$/.test(text) ? parseInt(text.slice(1), 16) : undefined;
}

const seedRowsCache = new WeakMap<readonly SeedRow[], readonly StoredRow[]>();

/** Seeds become stored rows once; routers given the same seed share them until they change something. */
export function storedSeed(seed: readonly SeedRow[]): readonly StoredRow[] {
  let rows = seedRowsCache.get(seed);
  if (!rows) {
    rows = Object.freeze(
      seed.map((row, index) =>
        Object.freeze({
          id: index + 1,
          values: Object.freeze({ ...row.values }),
          locked: row.locked === true,
        }),
      ),
    );
    seedRowsCache.set(seed, rows);
  }
  return rows;
}

/**
 * The items of one menu on one router. Starts on a shared, frozen seed and copies it on the first
 * change. `.id`s grow monotonically and are never reused.
 */
export class MenuStore {
  readonly definition: MenuDefinition;
  #rows: readonly StoredRow[];
  #owned = false;
  #nextId: number;

  constructor(definition: MenuDefinition, seed: readonly StoredRow[]) {
    this.definition = definition;
    this.#rows = seed;
    this.#nextId = seed.reduce((max, row) => Math.max(max, row.id), 0) + 1;
  }

  rows(): readonly StoredRow[] {
    return this.#rows;
  }

  byId(id: number): StoredRow | undefined {
    return this.#rows.find((row) => row.id === id);
  }

  /** An item by `*HEX` id or, where the menu has a name field, by name. */
  find(reference: string): StoredRow | undefined {
    const id = parseId(reference);
    if (id !== undefined) return this.byId(id);
    const nameField = this.definition.nameField;
    return nameField === undefined
      ? undefined
      : this.#rows.find((row) => row.values[nameField] === reference);
  }

  insert(
    values: Readonly<Record<string, string>>,
    options: { before?: number; locked?: boolean } = {},
  ): StoredRow {
    const row: StoredRow = { id: this.#nextId++, values, locked: options.locked === true };
    const rows = this.#mutable();
    const at =
      options.before === undefined ? -1 : rows.findIndex((candidate) => candidate.id === options.before);
    if (at === -1) rows.push(row);
    else rows.splice(at, 0, row);
    return row;
  }

  replace(id: number, values: Readonly<Record<string, string>>): StoredRow {
    const rows = this.#mutable();
    const at = rows.findIndex((row) => row.id === id);
    const row: StoredRow = { ...rows[at]!, values };
    rows[at] = row;
    return row;
  }

  remove(id: number): void {
    const rows = this.#mutable();
    const at = rows.findIndex((row) => row.id === id);
    if (at !== -1) rows.splice(at, 1);
  }

  /** Moves the items, in the order given, before `before` (or to the end). */
  move(ids: readonly number[], before: number | undefined): void {
    const rows = this.#mutable();
    const moving = ids.map((id) => rows.find((row) => row.id === id)!);
    const rest = rows.filter((row) => !ids.includes(row.id));
    const at = before === undefined ? -1 : rest.findIndex((row) => row.id === before);
    rest.splice(at === -1 ? rest.length : at, 0, ...moving);
    rows.splice(0, rows.length, ...rest);
  }

  #mutable(): StoredRow[] {
    if (!this.#owned) {
      this.#rows = [...this.#rows];
      this.#owned = true;
    }
    return this.#rows as StoredRow[];
  }
}
