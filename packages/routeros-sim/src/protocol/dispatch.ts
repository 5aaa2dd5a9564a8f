import { findMenu, isDirectory } from '../menus/table.js';
import type { CommandContext, CommandRequest, Job } from './command-context.js';
import { CommandError, Messages } from './errors.js';
import { isVerb, STANDARD_COMMANDS, verbsOf } from './standard-commands.js';

/**
 * Runs a menu command: `/ip/address/print` is the command `print` of the menu `/ip/address`.
 * An unknown menu under a known directory is `no such command`; an unknown directory is
 * `no such command prefix`.
 */
export function runMenuCommand(
  path: string,
  request: Omit<CommandRequest, 'verb'>,
  context: CommandContext,
): Job | void {
  const at = path.lastIndexOf('/');
  if (at === -1) throw new CommandError(Messages.noSuchCommand);
  const directory = at === 0 ? '/' : path.slice(0, at);
  const verb = path.slice(at + 1);
  const definition = findMenu(directory);
  if (!definition) {
    throw new CommandError(isDirectory(directory) ? Messages.noSuchCommand : Messages.noSuchCommandPrefix);
  }
  const special = definition.commands?.[verb];
  if (special) return special({ ...request, verb }, context);
  if (isVerb(verb) && verbsOf(definition).includes(verb)) {
    return STANDARD_COMMANDS[verb](definition, { ...request, verb }, context);
  }
  throw new CommandError(Messages.noSuchCommand);
}
