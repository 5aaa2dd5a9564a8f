/** Billing months are calendar months in UTC: `YYYY-MM`. */

const MONTH = /^(\d{4})-(0[1-9]|1[0-2])$/;

/** The month's first instant and the next month's first instant. */
export function monthBounds(at: Date): { start: Date; end: Date } {
  const start = new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), 1));
  const end = new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + 1, 1));
  return { start, end };
}

/** `YYYY-MM` of an instant. */
export function monthOf(at: Date): string {
  return at.toISOString().slice(0, 7);
}

/** The bounds of a `YYYY-MM` month, or undefined when the text is not one. */
export function parseMonth(text: string): { start: Date; end: Date } | undefined {
  const match = MONTH.exec(text);
  if (!match) return undefined;
  return monthBounds(new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, 1)));
}
