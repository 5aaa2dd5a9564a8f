/** RouterOS time intervals: `4d15h20m38s`, `1w2d`, `500ms`; a bare number is seconds. */

const UNITS: readonly [string, number][] = [
  ['w', 7 * 24 * 3600_000],
  ['d', 24 * 3600_000],
  ['h', 3600_000],
  ['m', 60_000],
  ['s', 1000],
];

/** Formats whole seconds as RouterOS prints an uptime: zero parts left out, `0s` for nothing. */
export function formatDuration(milliseconds: number): string {
  let rest = Math.max(0, Math.floor(milliseconds / 1000)) * 1000;
  let text = '';
  for (const [unit, size] of UNITS) {
    const count = Math.floor(rest / size);
    if (count > 0) text += `${count}${unit}`;
    rest -= count * size;
  }
  return text === '' ? '0s' : text;
}

/** Parses `1s`, `500ms`, `1m30s`, `00:01:30` or a bare number of seconds; undefined if it is none of these. */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed) * 1000;
  const clock = /^(\d+):(\d{2}):(\d{2})$/.exec(trimmed);
  if (clock) return (Number(clock[1]) * 3600 + Number(clock[2]) * 60 + Number(clock[3])) * 1000;
  const parts = /^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?$/.exec(trimmed);
  if (!parts || trimmed === '') return undefined;
  const [, w = 0, d = 0, h = 0, m = 0, s = 0, ms = 0] = parts;
  return (
    Number(w) * UNITS[0]![1] +
    Number(d) * UNITS[1]![1] +
    Number(h) * UNITS[2]![1] +
    Number(m) * UNITS[3]![1] +
    Number(s) * 1000 +
    Number(ms)
  );
}
