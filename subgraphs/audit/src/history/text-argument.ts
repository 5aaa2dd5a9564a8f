import { BadUserInputError } from '@fleet/service-kit';

/** Longest value a text argument may hold: ids and names are never longer at ingest. */
const MAX_LENGTH = 128;

/** A text argument as given (undefined when absent), or BAD_USER_INPUT naming it when empty or too long. */
export function textArgument(value: string, argument: string): string;
export function textArgument(value: string | null | undefined, argument: string): string | undefined;
export function textArgument(value: string | null | undefined, argument: string): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (value.length === 0 || value.length > MAX_LENGTH) {
    throw new BadUserInputError(`${argument} must be 1 to ${MAX_LENGTH} characters`, argument);
  }
  return value;
}
