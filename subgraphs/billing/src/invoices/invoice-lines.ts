import { DAY_MS, devicesPerDay, type PresenceInterval } from '../usage/device-days.js';
import { monthOfText } from './month-text.js';

/**
 * The invoice arithmetic: what a tenant owes for a month, from the plans it was on (second by
 * second) and the devices it had (day by day). Pure: the same input, in any order, gives the
 * same lines.
 *
 * The rules, in integer minor units with exact (BigInt) products, never floating point:
 * - A billable segment's PLAN_FEE is its monthly fee prorated by the second over the month's
 *   seconds, rounded half up: round(price × seconds / month's seconds). Boundaries count in
 *   whole seconds (rounded down), so adjacent segments share their boundary second exactly and
 *   one plan for the whole month costs exactly its price. Splitting a segment in two changes
 *   the sum of its fees by at most one minor unit.
 * - A device-day (one device on one UTC day on which it existed at any moment) belongs to the
 *   segment in effect at the day's start, or, when none was, to the first segment that began
 *   that day; a day that no segment touches belongs to none. A billable segment's DEVICE_USAGE
 *   is its device-days × its device-day price, exactly.
 * - Unbillable segments (trialing, canceled) make no lines. Lines follow the segments in time
 *   order: the fee, then the usage, of each.
 */

/** One stretch of a tenant's plan, with the prices snapshotted when it began. */
export interface PlanSegment {
  planId: string;
  startsAt: Date;
  /** Null while it lasts: it is clipped at the month's end. */
  endsAt: Date | null;
  billable: boolean;
  /** Monthly fee, minor units. */
  priceMinor: number;
  deviceDayPriceMinor: number;
  currency: string;
}

export type InvoiceLineKind = 'PLAN_FEE' | 'DEVICE_USAGE';

export interface InvoiceLineItem {
  kind: InvoiceLineKind;
  description: string;
  planId: string;
  /** Bounds of the time the line covers, within the month. */
  periodStart: Date;
  periodEnd: Date;
  /** Seconds on the plan for a fee, device-days for usage. */
  quantity: number;
  /** Monthly fee or device-day price. */
  unitAmountMinor: number;
  amountMinor: number;
}

export interface InvoiceComputation {
  period: string;
  /** The billable segments' currency; else the last segment's; null without segments. */
  currency: string | null;
  lines: InvoiceLineItem[];
  totalMinor: number;
  /** Every device-day of the month, whichever segment (if any) it belongs to. */
  deviceDays: number;
}

/** Billable segments of one invoice in two currencies: one invoice cannot add them up. */
export class MixedCurrencyError extends Error {}

/** Segments that overlap in time: a tenant is on one plan at a time. */
export class OverlappingSegmentsError extends Error {}

/** A segment clipped to the month, in whole seconds since the epoch. */
interface ClippedSegment {
  segment: PlanSegment;
  start: number;
  end: number;
}

/** The lines and total of a month (`YYYY-MM`) from the tenant's segments and devices' presence. */
export function invoiceLines(
  month: string,
  segments: readonly PlanSegment[],
  presence: readonly PresenceInterval[],
): InvoiceComputation {
  const period = monthOfText(month);
  if (!period) throw new RangeError(`"${month}" is not a month: write it YYYY-MM, e.g. 2026-03`);
  const monthStart = period.start.getTime() / 1_000;
  const monthEnd = period.end.getTime() / 1_000;
  const monthSeconds = BigInt(monthEnd - monthStart);
  const clipped = clip(segments, monthStart, monthEnd);
  const billable = clipped.filter((c) => c.segment.billable);
  const currencies = new Set(billable.map((c) => c.segment.currency));
  if (currencies.size > 1)
    throw new MixedCurrencyError(
      `The month's billable plans are in ${[...currencies].sort().join(' and ')}: one invoice cannot add them up`,
    );

  const perDay = devicesPerDay(period, presence);
  const daysOf = new Map<ClippedSegment, number>();
  for (const [day, devices] of perDay.entries()) {
    if (devices === 0) continue;
    const owner = segmentOfDay(clipped, monthStart + (day * DAY_MS) / 1_000);
    if (owner) daysOf.set(owner, (daysOf.get(owner) ?? 0) + devices);
  }

  const lines: InvoiceLineItem[] = [];
  let total = 0n;
  for (const part of billable) {
    const { segment } = part;
    const seconds = BigInt(part.end - part.start);
    const price = BigInt(segment.priceMinor);
    // Half up: floor((2 × price × seconds + month) / (2 × month)), all of it non-negative.
    const fee = (2n * price * seconds + monthSeconds) / (2n * monthSeconds);
    const deviceDays = daysOf.get(part) ?? 0;
    const usage = BigInt(deviceDays) * BigInt(segment.deviceDayPriceMinor);
    const periodStart = new Date(part.start * 1_000);
    const periodEnd = new Date(part.end * 1_000);
    const span = `${moment(periodStart)} to ${moment(periodEnd)} UTC`;
    lines.push(
      {
        kind: 'PLAN_FEE',
        description: `Plan ${segment.planId}, ${span}`,
        planId: segment.planId,
        periodStart,
        periodEnd,
        quantity: Number(seconds),
        unitAmountMinor: segment.priceMinor,
        amountMinor: safe(fee),
      },
      {
        kind: 'DEVICE_USAGE',
        description: `Device-days on plan ${segment.planId}, ${span}`,
        planId: segment.planId,
        periodStart,
        periodEnd,
        quantity: deviceDays,
        unitAmountMinor: segment.deviceDayPriceMinor,
        amountMinor: safe(usage),
      },
    );
    total += fee + usage;
  }
  return {
    period: month,
    currency: billable[0]?.segment.currency ?? clipped.at(-1)?.segment.currency ?? null,
    lines,
    totalMinor: safe(total),
    deviceDays: perDay.reduce((sum, devices) => sum + devices, 0),
  };
}

/** The segments within the month, in whole seconds, in time order; none of no length. */
function clip(segments: readonly PlanSegment[], monthStart: number, monthEnd: number): ClippedSegment[] {
  const clipped: ClippedSegment[] = [];
  for (const segment of segments) {
    for (const amount of [segment.priceMinor, segment.deviceDayPriceMinor]) {
      if (!Number.isSafeInteger(amount) || amount < 0)
        throw new RangeError(`A price must be a whole number of minor units from 0 (got ${amount})`);
    }
    const start = Math.max(Math.floor(segment.startsAt.getTime() / 1_000), monthStart);
    const end = Math.min(
      segment.endsAt === null ? monthEnd : Math.floor(segment.endsAt.getTime() / 1_000),
      monthEnd,
    );
    if (start < end) clipped.push({ segment, start, end });
  }
  clipped.sort((a, b) => a.start - b.start);
  for (let i = 1; i < clipped.length; i++) {
    if (clipped[i]!.start < clipped[i - 1]!.end)
      throw new OverlappingSegmentsError(
        `Plan segments overlap at ${new Date(clipped[i]!.start * 1_000).toISOString()}`,
      );
  }
  return clipped;
}

/** The segment in effect at a day's start, else the first one beginning that day. */
function segmentOfDay(segments: readonly ClippedSegment[], dayStart: number): ClippedSegment | undefined {
  const dayEnd = dayStart + DAY_MS / 1_000;
  return (
    segments.find((s) => s.start <= dayStart && dayStart < s.end) ??
    segments.find((s) => dayStart < s.start && s.start < dayEnd)
  );
}

function moment(instant: Date): string {
  return instant.toISOString().slice(0, 19).replace('T', ' ');
}

/** An amount as a JavaScript number, refused past 2^53 rather than rounded. */
function safe(amount: bigint): number {
  if (amount > BigInt(Number.MAX_SAFE_INTEGER))
    throw new RangeError(`An amount of ${amount} minor units is beyond what billing stores exactly`);
  return Number(amount);
}
