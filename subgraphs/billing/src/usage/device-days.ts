/** A UTC day, in milliseconds: billing months are made of whole ones. */
export const DAY_MS = 86_400_000;

/** A billing month's bounds: the half-open interval [start, end). */
export interface MonthBounds {
  start: Date;
  end: Date;
}

/**
 * A time a device existed: from its creation to its removal, the half-open interval
 * [from, until); `until` is null while it exists.
 */
export interface PresenceInterval {
  deviceId: string;
  from: Date;
  until: Date | null;
}

/**
 * How many devices existed on each UTC day of a period, up to `until` (the period's end unless
 * given): a device counts once on every day on which it existed at any moment, however often it
 * came and went that day. An interval of no length (removed the instant it was created) counts
 * nothing. Index 0 is the period's first day.
 */
export function devicesPerDay(
  period: MonthBounds,
  presence: readonly PresenceInterval[],
  until: Date = period.end,
): number[] {
  const startMs = period.start.getTime();
  const endMs = Math.min(period.end.getTime(), until.getTime());
  const days = Math.round((period.end.getTime() - startMs) / DAY_MS);
  const counts = new Array<number>(days + 1).fill(0);
  for (const ranges of dayRangesByDevice(presence, startMs, endMs).values()) {
    for (const [first, last] of mergeRanges(ranges)) {
      counts[first]! += 1;
      counts[last + 1]! -= 1;
    }
  }
  const perDay: number[] = [];
  let running = 0;
  for (let day = 0; day < days; day++) {
    running += counts[day]!;
    perDay.push(running);
  }
  return perDay;
}

/** The device-days of a period (up to `until`): the sum of {@link devicesPerDay}. */
export function deviceDaysIn(
  period: MonthBounds,
  presence: readonly PresenceInterval[],
  until: Date = period.end,
): number {
  return devicesPerDay(period, presence, until).reduce((sum, count) => sum + count, 0);
}

/** Each device's days within [startMs, endMs), as inclusive day indexes of the period. */
function dayRangesByDevice(
  presence: readonly PresenceInterval[],
  startMs: number,
  endMs: number,
): Map<string, [number, number][]> {
  const byDevice = new Map<string, [number, number][]>();
  for (const interval of presence) {
    const from = Math.max(interval.from.getTime(), startMs);
    const until = Math.min(interval.until?.getTime() ?? Infinity, endMs);
    if (!(from < until)) continue;
    const first = Math.floor((from - startMs) / DAY_MS);
    // `until` is excluded: an interval ending at midnight does not reach the next day.
    const last = Math.ceil((until - startMs) / DAY_MS) - 1;
    const ranges = byDevice.get(interval.deviceId) ?? [];
    ranges.push([first, last]);
    byDevice.set(interval.deviceId, ranges);
  }
  return byDevice;
}

/** Inclusive day ranges merged where they overlap or touch, so that no day counts twice. */
function mergeRanges(ranges: [number, number][]): [number, number][] {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const [first, last] of sorted) {
    const previous = merged.at(-1);
    if (previous && first <= previous[1] + 1) previous[1] = Math.max(previous[1], last);
    else merged.push([first, last]);
  }
  return merged;
}
