/** A calendar month in UTC, the unit invoices bill and usage is reported in. */
export interface BillingPeriod {
  /** `YYYY-MM`. */
  readonly text: string;
  /** The month's first instant. */
  readonly start: Date;
  /** The next month's first instant: a period is the half-open interval [start, end). */
  readonly end: Date;
  /** Its length in days (28 to 31). */
  readonly days: number;
}

export const DAY_MS = 86_400_000;

const PERIOD = /^(\d{4})-(0[1-9]|1[0-2])$/;

/** The period `YYYY-MM` names, from 1970-01 to 9999-12; undefined for any other text. */
export function parsePeriod(text: string): BillingPeriod | undefined {
  const match = PERIOD.exec(text);
  if (!match) return undefined;
  const year = Number(match[1]);
  if (year < 1970) return undefined;
  return periodOf(year, Number(match[2]));
}

/** The period that contains an instant. */
export function periodContaining(instant: Date): BillingPeriod {
  return periodOf(instant.getUTCFullYear(), instant.getUTCMonth() + 1);
}

/** The period just before another. */
export function previousPeriod(period: BillingPeriod): BillingPeriod {
  return periodContaining(new Date(period.start.getTime() - 1));
}

function periodOf(year: number, month: number): BillingPeriod {
  const start = Date.UTC(year, month - 1, 1);
  const end = Date.UTC(year, month, 1);
  return {
    text: `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}`,
    start: new Date(start),
    end: new Date(end),
    days: (end - start) / DAY_MS,
  };
}
