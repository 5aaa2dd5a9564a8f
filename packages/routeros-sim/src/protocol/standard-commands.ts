import type { MenuDefinition, Verb } from '../menus/definition.js';
import { parseDuration } from '../menus/duration.js';
import { formatId, type StoredRow } from '../menus/menu-store.js';
import { fieldsOf, withDefaults } from '../menus/fields.js';
import { printedRow, project, proplistOf } from '../menus/printing.js';
import type { MenuChange } from '../menus/router-config.js';
import { checkKey, normalizeBoolean, rejectUnknownParameters, writableValues } from '../menus/validation.js';
import { compileQuery, type Predicate } from '../query/query.js';
import { flag, type CommandContext, type CommandRequest, type Job } from './command-context.js';
import { CommandError, Messages } from './errors.js';

/*
 * The commands every menu shares: print (getall), listen, add, set, remove, enable, disable, unset
 * and move, over the menu table's definitions.
 */

const PRINT_PARAMETERS = [
  '.proplist',
  'count-only',
  'follow',
  'follow-only',
  'interval',
  'detail',
  'without-paging',
  'terse',
  'brief',
  'stats',
  'show-ids',
  'as-value',
];

/** The standard commands a menu offers when its definition does not list them. */
export function verbsOf(definition: MenuDefinition): readonly Verb[] {
  if (definition.verbs) return definition.verbs;
  if (definition.commandsOnly) return [];
  if (definition.singleValue) return ['print', 'getall', 'listen', 'set', 'unset'];
  const verbs: Verb[] = ['print', 'getall', 'listen', 'add', 'set', 'remove', 'unset'];
  if (definition.fields.some((field) => field.name === 'disabled')) verbs.push('enable', 'disable');
  if (definition.ordered) verbs.push('move');
  return verbs;
}

type StandardCommand = (
  definition: MenuDefinition,
  request: CommandRequest,
  context: CommandContext,
) => Job | void;

function queryOf(definition: MenuDefinition, request: CommandRequest, context: CommandContext): Predicate {
  const booleans = new Set(
    fieldsOf(definition, context.facts)
      .filter((field) => field.type === 'bool')
      .map((field) => field.name),
  );
  return compileQuery(request.queries, (name, value) =>
    booleans.has(name) ? (normalizeBoolean(value) ?? value) : value,
  );
}

function printedRows(
  definition: MenuDefinition,
  context: CommandContext,
  match: Predicate,
): Record<string, string>[] {
  return context.config
    .store(definition.path)
    .rows()
    .map((row) => printedRow(definition, row, context.facts))
    .filter(match);
}

/** Sends a `!re` for each later change of the menu (`.dead` for a removed item) until stopped. */
function follow(
  definition: MenuDefinition,
  context: CommandContext,
  match: Predicate,
  proplist?: readonly string[],
): Job {
  const unsubscribe = context.config.subscribe(definition.path, (change: MenuChange) => {
    if (change.kind === 'removed') {
      const dead: Record<string, string> = {};
      if (!definition.singleValue) dead['.id'] = formatId(change.row.id);
      dead['.dead'] = context.facts.profile.deadValue;
      context.reply.re(dead);
      return;
    }
    const row = printedRow(definition, change.row, context.facts);
    if (match(row)) context.reply.re(project(row, proplist));
  });
  return { stop: unsubscribe };
}

const print: StandardCommand = (definition, request, context) => {
  const { attributes } = request;
  rejectUnknownParameters(attributes, PRINT_PARAMETERS);
  const match = queryOf(definition, request, context);
  const proplist = proplistOf(attributes);
  const { reply } = context;

  if (flag(attributes, 'count-only')) {
    reply.done({ ret: String(printedRows(definition, context, match).length) });
    return;
  }
  if (flag(attributes, 'follow-only')) return follow(definition, context, match, proplist);
  const showAll = (): number => {
    const rows = printedRows(definition, context, match);
    for (const row of rows) reply.re(project(row, proplist));
    return rows.length;
  };
  if (flag(attributes, 'follow')) {
    showAll();
    return follow(definition, context, match, proplist);
  }
  const interval = attributes.get('interval');
  if (interval !== undefined) {
    const every = Math.max(50, parseDuration(interval) ?? 1000);
    showAll();
    const timer = setInterval(showAll, every);
    timer.unref();
    return { stop: () => clearInterval(timer) };
  }
  if (showAll() === 0 && context.facts.profile.emptyReply) reply.empty();
  reply.done();
};

const listen: StandardCommand = (definition, request, context) => {
  rejectUnknownParameters(request.attributes, ['.proplist']);
  return follow(definition, context, queryOf(definition, request, context), proplistOf(request.attributes));
};

/** The items named by `=.id=` or `=numbers=` (comma lists of `*HEX` ids or names); all must exist. */
function targets(definition: MenuDefinition, request: CommandRequest, context: CommandContext): StoredRow[] {
  const store = context.config.store(definition.path);
  if (definition.singleValue) return [store.rows()[0]!];
  const list = request.attributes.get('.id') ?? request.attributes.get('numbers');
  if (list === undefined) throw new CommandError(Messages.missingValue('numbers'));
  const references = list.split(',').filter((reference) => reference !== '');
  const rows = references.map((reference) => store.find(reference));
  if (references.length === 0 || rows.some((row) => row === undefined))
    throw new CommandError(Messages.noSuchItem);
  return rows as StoredRow[];
}

function withoutAddressing(
  attributes: ReadonlyMap<string, string>,
  more: readonly string[] = [],
): [string, string][] {
  return [...attributes].filter(([name]) => name !== '.id' && name !== 'numbers' && !more.includes(name));
}

function nextFreeName(definition: MenuDefinition, context: CommandContext, prefix: string): string {
  const taken = new Set(
    context.config
      .store(definition.path)
      .rows()
      .map((row) => row.values.name),
  );
  let n = 1;
  while (taken.has(`${prefix}${n}`)) n++;
  return `${prefix}${n}`;
}

const add: StandardCommand = (definition, request, context) => {
  const { config } = context;
  const placeBefore = definition.ordered ? request.attributes.get('place-before') : undefined;
  const given = writableValues(
    definition,
    config,
    [...request.attributes].filter(([name]) => !(definition.ordered && name === 'place-before')),
  );
  if (definition.autoName && given.name === undefined)
    given.name = nextFreeName(definition, context, definition.autoName);
  const missing = fieldsOf(definition, context.facts).filter((field) => field.required && !given[field.name]);
  if (missing.length > 0)
    throw new CommandError(Messages.missingValue(missing.map((field) => field.name).join(',')));
  let values = withDefaults(definition, context.facts, given);
  if (definition.derive) values = { ...values, ...definition.derive(values) };
  checkKey(definition, config, values);
  let before: number | undefined;
  if (placeBefore !== undefined) {
    const anchor = config.store(definition.path).find(placeBefore);
    if (!anchor) throw new CommandError(Messages.noSuchItem);
    before = anchor.id;
  }
  const row = config.add(definition.path, values, { before });
  context.reply.done({ ret: formatId(row.id) });
};

/** Applies new values to the items, checking everything before changing anything. */
function change(
  definition: MenuDefinition,
  context: CommandContext,
  rows: readonly StoredRow[],
  update: (values: Readonly<Record<string, string>>) => Record<string, string>,
): void {
  const planned = rows.map((row) => {
    let values = update(row.values);
    if (definition.derive) values = { ...values, ...definition.derive(values) };
    checkKey(definition, context.config, values, row.id);
    return { id: row.id, values };
  });
  for (const { id, values } of planned) context.config.update(definition.path, id, values);
  context.reply.done();
}

const set: StandardCommand = (definition, request, context) => {
  const rows = targets(definition, request, context);
  const given = writableValues(definition, context.config, withoutAddressing(request.attributes));
  change(definition, context, rows, (values) => ({ ...values, ...given }));
};

const setDisabled =
  (disabled: 'true' | 'false'): StandardCommand =>
  (definition, request, context) => {
    rejectUnknownParameters(request.attributes, ['.id', 'numbers']);
    const rows = targets(definition, request, context);
    change(definition, context, rows, (values) => ({ ...values, disabled }));
  };

const unset: StandardCommand = (definition, request, context) => {
  rejectUnknownParameters(request.attributes, ['.id', 'numbers', 'value-name']);
  const rows = targets(definition, request, context);
  const names = (request.attributes.get('value-name') ?? '').split(',').filter((name) => name !== '');
  if (names.length === 0) throw new CommandError(Messages.missingValue('value-name'));
  const fields = names.map((name) => {
    const field = fieldsOf(definition, context.facts).find((candidate) => candidate.name === name);
    if (!field || field.readOnly) throw new CommandError(Messages.unknownParameter);
    return field;
  });
  change(definition, context, rows, (values) => {
    const next = { ...values };
    for (const field of fields) {
      if (field.default === undefined) delete next[field.name];
      else next[field.name] = field.default;
    }
    return next;
  });
};

const remove: StandardCommand = (definition, request, context) => {
  rejectUnknownParameters(request.attributes, ['.id', 'numbers']);
  const rows = targets(definition, request, context);
  if (rows.some((row) => row.locked)) {
    throw new CommandError(definition.lockedMessage ?? 'failure: can not remove this item');
  }
  for (const row of rows) context.config.remove(definition.path, row.id);
  context.reply.done();
};

const move: StandardCommand = (definition, request, context) => {
  rejectUnknownParameters(request.attributes, ['.id', 'numbers', 'destination']);
  const rows = targets(definition, request, context);
  const destination = request.attributes.get('destination');
  let before: number | undefined;
  if (destination !== undefined && destination !== '') {
    const anchor = context.config.store(definition.path).find(destination);
    if (!anchor) throw new CommandError(Messages.noSuchItem);
    before = anchor.id;
  }
  context.config.move(
    definition.path,
    rows.map((row) => row.id),
    before,
  );
  context.reply.done();
};

export const STANDARD_COMMANDS: Readonly<Record<Verb, StandardCommand>> = {
  print,
  getall: print,
  listen,
  add,
  set,
  remove,
  enable: setDisabled('false'),
  disable: setDisabled('true'),
  unset,
  move,
};

export function isVerb(name: string): name is Verb {
  return Object.hasOwn(STANDARD_COMMANDS, name);
}
