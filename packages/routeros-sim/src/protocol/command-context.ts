import type { RouterFacts } from '../menus/definition.js';
import type { RouterConfig } from '../menus/router-config.js';

/** The replies of one command; each carries the command's tag. */
export interface ReplyWriter {
  /** `!re` with the attributes, in order. */
  re(attributes: Readonly<Record<string, string>>): void;
  /** `!done`, the command's last reply. */
  done(attributes?: Readonly<Record<string, string>>): void;
  /** `!empty`: a print that had nothing to show, on versions that say so. */
  empty(): void;
}

/** A command still running after it returned (listen, follow, monitor-traffic): /cancel stops it. */
export interface Job {
  stop(): void;
}

export interface CommandRequest {
  /** The last word of the command path: print, add, monitor-traffic … */
  readonly verb: string;
  readonly attributes: ReadonlyMap<string, string>;
  readonly queries: readonly string[];
}

/** What a command may do to the router beyond its configuration. */
export interface RouterActions {
  /** Reboots once the current replies are written. */
  reboot(): void;
  /** Installs a release, then reboots. */
  install(release: string): void;
}

export interface CommandContext {
  readonly config: RouterConfig;
  readonly facts: RouterFacts;
  readonly actions: RouterActions;
  readonly reply: ReplyWriter;
}

/**
 * A command of a menu. It either answers at once (ending with reply.done(), or throwing a
 * CommandError) or returns a Job that keeps answering until stopped or until it calls done.
 */
export type MenuCommand = (request: CommandRequest, context: CommandContext) => Job | void;

/** `=once=`, `=once=yes`, `=follow=true`: a flag is on when present, unless it says no or false. */
export function flag(attributes: ReadonlyMap<string, string>, name: string): boolean {
  const value = attributes.get(name);
  return value !== undefined && value !== 'no' && value !== 'false';
}
