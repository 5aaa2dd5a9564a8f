import { BadUserInputError } from '@fleet/service-kit';

/**
 * A chain position from a GraphQL argument: positions travel as decimal strings, since they
 * outgrow 32-bit integers. Undefined when the argument is absent.
 */
export function positionArgument(value: string | null | undefined, name: string): number | undefined {
  if (value === null || value === undefined) return undefined;
  if (!/^[1-9]\d{0,14}$/.test(value))
    throw new BadUserInputError(`${name} must be a position: a decimal number from 1`, name);
  return Number(value);
}
