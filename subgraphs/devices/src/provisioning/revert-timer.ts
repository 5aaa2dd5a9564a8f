import type { RouterClient } from '@fleet/router-api';
import { quoted } from '../enrollment/routeros-script.js';
import type { PlannedChange } from './plan.js';

/** Menus whose changes can cut the platform off the router: addresses, routes, firewall, services, users. */
export const MANAGEMENT_MENUS: ReadonlySet<string> = new Set([
  '/ip/address',
  '/ip/route',
  '/ip/firewall/filter',
  '/ip/firewall/nat',
  '/ip/service',
  '/user',
  '/user/group',
]);

const SCHEDULER = '/system/scheduler';

/**
 * Safe apply: before the first change to a menu that affects management access, the router is
 * given a scheduler entry that undoes the job's changes to those menus after `afterSeconds`,
 * unless the platform, still able to reach the router after the changes, removes it. Each
 * change extends the undo script; the script removes its own entry first, so it runs once.
 */
export class RevertTimer {
  readonly #client: RouterClient;
  readonly #name: string;
  readonly #undo: string[] = [];
  /** The undo commands of an earlier attempt of the same job (a worker died): still owed. */
  #inherited = '';

  private constructor(client: RouterClient, name: string) {
    this.#client = client;
    this.#name = name;
  }

  /**
   * Schedules a revert on the router. When an earlier attempt of the job left its timer there (its
   * worker died before confirming), that timer is taken over, its undo commands kept after the new
   * ones.
   */
  static async arm(client: RouterClient, jobId: string, afterSeconds: number): Promise<RevertTimer> {
    const timer = new RevertTimer(client, `fleet-revert-${jobId.slice(0, 8)}`);
    const [earlier] = await client.print(SCHEDULER, { where: { name: timer.#name } });
    if (earlier?.['.id']) {
      const script = earlier['on-event'] ?? '';
      const own = timer.script();
      timer.#inherited = script.startsWith(own) ? script.slice(own.length) : '';
      await client.set(SCHEDULER, [earlier['.id']], {
        interval: `${afterSeconds}s`,
        'on-event': timer.script(),
      });
      return timer;
    }
    await client.add(SCHEDULER, {
      name: timer.#name,
      interval: `${afterSeconds}s`,
      'on-event': timer.script(),
      comment: 'Reverts a change of the fleet platform unless the platform confirms it',
    });
    return timer;
  }

  get name(): string {
    return this.#name;
  }

  /** Adds the undoing of a change that was just made (`addedId`: what executing it answered). */
  async record(change: PlannedChange, addedId: string | undefined): Promise<void> {
    const undo = undoOf(change, addedId);
    if (!undo) return;
    // Undone in the reverse order of doing.
    this.#undo.unshift(undo);
    await this.#client.set(SCHEDULER, [await this.#id()], { 'on-event': this.script() });
  }

  /** The platform can still reach the router: no revert. */
  async confirm(client: RouterClient): Promise<void> {
    const rows = await client.print(SCHEDULER, { where: { name: this.#name } });
    if (rows.length > 0)
      await client.remove(
        SCHEDULER,
        rows.map((row) => row['.id']!),
      );
  }

  script(): string {
    const removeSelf = `/system scheduler remove [find name=${quoted(this.#name)}]`;
    return (
      [removeSelf, ...this.#undo.map((command) => `:do { ${command} } on-error={}`)].join('; ') +
      this.#inherited
    );
  }

  async #id(): Promise<string> {
    const [row] = await this.#client.print(SCHEDULER, { where: { name: this.#name } });
    if (!row?.['.id']) throw new Error(`the revert timer ${this.#name} is gone from the router`);
    return row['.id'];
  }
}

/** The RouterOS command that undoes one change (console syntax, which both 6.x and 7.x read). */
function undoOf(change: PlannedChange, addedId: string | undefined): string | undefined {
  const menu = change.menu.split('/').filter(Boolean).join(' ');
  const assignments = (values: Record<string, string>) =>
    Object.entries(values)
      .map(([name, value]) => `${name}=${quoted(value)}`)
      .join(' ');
  switch (change.action) {
    case 'add':
      return addedId ? `/${menu} remove ${addedId}` : undefined;
    case 'set':
      return change.itemId === null
        ? `/${menu} set ${assignments(change.before)}`
        : `/${menu} set ${change.itemId} ${assignments(change.before)}`;
    case 'remove':
      return `/${menu} add ${assignments(change.before)}`;
    case 'move':
      // `addedId` is what followed the rule before it moved: '' for none, the end.
      if (addedId === undefined) return undefined;
      return addedId === ''
        ? `/${menu} move numbers=${change.itemId}`
        : `/${menu} move numbers=${change.itemId} destination=${addedId}`;
  }
}
