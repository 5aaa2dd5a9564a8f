/**
 * The texts a router puts in `!trap =message=` and `!fatal`. Those marked unverified are not in
 * the reference: they are plausible stand-ins, kept in this one place so they are easy to correct.
 */
export const Messages = {
  noSuchCommand: 'no such command',
  noSuchCommandPrefix: 'no such command prefix',
  noSuchItem: 'no such item (4)',
  unknownParameter: 'unknown parameter',
  interrupted: 'interrupted',
  simulatedFailure: 'simulated failure',
  sessionTerminated: 'session terminated on request',
  notLoggedIn: 'not logged in',
  /** A reason the wiki names for a `!fatal`; the exact text is unverified. */
  tooManyBeforeLogin: 'too many commands before login',
  /** Unverified. */
  missingValue: (names: string) => `missing value(s) of argument(s) ${names}`,
  inputDoesNotMatch: (name: string) => `input does not match any value of ${name}`,
  /** Unverified: `/cancel =tag=` naming no running command. */
  noSuchTag: 'no such command or it is already finished',
} as const;

/** A command that fails: answered with `!trap` (category and message), then `!done`. */
export class CommandError extends Error {
  constructor(
    message: string,
    readonly category?: number,
  ) {
    super(message);
    this.name = 'CommandError';
  }
}

/** Trap categories (from the API manual). */
export const Category = {
  missingItem: 0,
  argumentValue: 1,
  interrupted: 2,
  generalFailure: 4,
} as const;
