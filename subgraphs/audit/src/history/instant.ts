import { BadUserInputError } from '@fleet/service-kit';

/** Year, month, day, hour, minute, second, offset hours and minutes; absent ones are 0. */
type Fields = [number, number, number, number, number, number, number, number];

const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,3})?)?(?:Z|[+-](\d{2}):(\d{2}))$/;

/**
 * A moment given as an ISO 8601 date-time with its offset (`2025-03-01T12:00:00Z`,
 * `2025-03-01T13:00:00.250+01:00`), to the millisecond audit records times with. A time without
 * an offset would mean a different moment on each server, and a finer fraction a boundary the
 * stored times cannot express: both are refused, as is a date the calendar does not have
 * (which Date.parse would silently roll over into the next month).
 */
export function parseInstant(value: string, argument: string): Date {
  const parts = DATE_TIME.exec(value);
  const refuse = () =>
    new BadUserInputError(
      `${argument} must be an ISO 8601 date-time with an offset, e.g. 2025-03-01T12:00:00Z`,
      argument,
    );
  if (!parts) throw refuse();
  const [year, month, day, hour, minute, second, offsetHours, offsetMinutes] = parts
    .slice(1)
    .map((part) => (part === undefined ? 0 : Number(part))) as Fields;
  const lastDay = new Date(0);
  lastDay.setUTCFullYear(year, month, 0);
  if (
    month < 1 ||
    month > 12 ||
    day < 1 ||
    day > lastDay.getUTCDate() ||
    hour > 23 ||
    minute > 59 ||
    second > 59 ||
    offsetHours > 23 ||
    offsetMinutes > 59
  ) {
    throw refuse();
  }
  const time = Date.parse(value);
  if (Number.isNaN(time)) throw refuse();
  return new Date(time);
}
