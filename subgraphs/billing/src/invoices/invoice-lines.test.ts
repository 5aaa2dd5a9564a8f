import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseMonth } from '../subscriptions/billing-month.js';
import { DAY_MS, type PresenceInterval } from '../usage/device-days.js';
import {
  invoiceLines,
  MixedCurrencyError,
  OverlappingSegmentsError,
  type InvoiceComputation,
  type PlanSegment,
} from './invoice-lines.js';

/**
 * The invoice arithmetic: properties over generated months, plans and devices, and months worked
 * out by hand.
 */

const at = (iso: string) => new Date(iso);

/** A month's bounds and its length in days. */
function monthOfText(month: string) {
  const bounds = parseMonth(month)!;
  return { ...bounds, days: (bounds.end.getTime() - bounds.start.getTime()) / DAY_MS };
}

function segment(overrides: Partial<PlanSegment> & Pick<PlanSegment, 'startsAt'>): PlanSegment {
  return {
    planId: 'pro',
    endsAt: null,
    billable: true,
    priceMinor: 4_900,
    deviceDayPriceMinor: 5,
    currency: 'EUR',
    ...overrides,
  };
}

function device(deviceId: string, from: string, until: string | null = null): PresenceInterval {
  return { deviceId, from: at(from), until: until === null ? null : at(until) };
}

const sum = (values: readonly number[]) => values.reduce((total, value) => total + value, 0);
const fees = (invoice: InvoiceComputation) =>
  sum(invoice.lines.filter((line) => line.kind === 'PLAN_FEE').map((line) => line.amountMinor));
const usage = (invoice: InvoiceComputation) =>
  sum(invoice.lines.filter((line) => line.kind === 'DEVICE_USAGE').map((line) => line.amountMinor));

// --- generators -------------------------------------------------------------------------------

const monthArb = fc
  .record({ year: fc.integer({ min: 1970, max: 2200 }), month: fc.integer({ min: 1, max: 12 }) })
  .map(({ year, month }) => `${year}-${String(month).padStart(2, '0')}`);

/** Prices mostly of everyday size, sometimes huge enough that price × seconds passes 2^53. */
const priceArb = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 100_000 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 2_000_000_000 }) },
);

interface Case {
  month: string;
  segments: PlanSegment[];
  presence: PresenceInterval[];
}

/**
 * A month with segments one after another (with gaps, some running over the month's bounds,
 * boundaries sometimes off the whole second), and devices coming and going around it.
 */
const caseArb: fc.Arbitrary<Case> = monthArb.chain((month) => {
  const period = monthOfText(month);
  const from = period.start.getTime() - 3 * DAY_MS;
  const to = period.end.getTime() + 3 * DAY_MS;
  const instant = fc.integer({ min: from, max: to });
  const segmentsArb = fc
    .uniqueArray(instant, { minLength: 0, maxLength: 8 })
    .chain((cuts) => {
      const sorted = [...cuts].sort((a, b) => a - b);
      const pieces = sorted.slice(0, -1).map((start, i) => [start, sorted[i + 1]!] as const);
      return fc.tuple(
        ...pieces.map(([start, end]) =>
          fc.record({
            keep: fc.boolean(),
            open: fc.boolean(),
            planId: fc.constantFrom('free', 'pro', 'enterprise'),
            billable: fc.boolean(),
            priceMinor: priceArb,
            deviceDayPriceMinor: fc.integer({ min: 0, max: 10_000 }),
            start: fc.constant(start),
            end: fc.constant(end),
          }),
        ),
      );
    })
    .map((pieces) =>
      pieces
        .filter((piece) => piece.keep)
        .map((piece, i, kept) =>
          segment({
            planId: piece.planId,
            startsAt: new Date(piece.start),
            // Only the last segment may still be running.
            endsAt: i === kept.length - 1 && piece.open ? null : new Date(piece.end),
            billable: piece.billable,
            priceMinor: piece.priceMinor,
            deviceDayPriceMinor: piece.deviceDayPriceMinor,
          }),
        ),
    );
  const presenceArb = fc.array(
    fc.record({
      deviceId: fc.constantFrom('d1', 'd2', 'd3', 'd4', 'd5'),
      from: instant,
      length: fc.option(fc.integer({ min: 0, max: 40 * DAY_MS }), { nil: null }),
    }),
    { maxLength: 12 },
  );
  return fc.record({
    month: fc.constant(month),
    segments: segmentsArb,
    presence: presenceArb.map((intervals) =>
      intervals.map(({ deviceId, from: start, length }) => ({
        deviceId,
        from: new Date(start),
        until: length === null ? null : new Date(start + length),
      })),
    ),
  });
});

/** A permutation of the items (fast-check shrinks it toward the identity). */
function shuffled<T>(items: readonly T[]): fc.Arbitrary<T[]> {
  return fc.array(fc.nat(), { minLength: items.length, maxLength: items.length }).map((keys) =>
    items
      .map((item, i) => ({ item, key: keys[i]! }))
      .sort((a, b) => a.key - b.key)
      .map(({ item }) => item),
  );
}

const devicesOf = (presence: readonly PresenceInterval[]) => new Set(presence.map((p) => p.deviceId)).size;

// --- properties -------------------------------------------------------------------------------

describe('the invoice arithmetic, as properties', () => {
  it('is deterministic and independent of the order of its input', () => {
    fc.assert(
      fc.property(
        caseArb.chain((c) => fc.tuple(fc.constant(c), shuffled(c.segments), shuffled(c.presence))),
        ([c, segments, presence]) => {
          const first = invoiceLines(c.month, c.segments, c.presence);
          expect(invoiceLines(c.month, c.segments, c.presence)).toEqual(first);
          expect(invoiceLines(c.month, segments, presence)).toEqual(first);
        },
      ),
    );
  });

  it('totals exactly the sum of its lines, none of them negative, all inside the month', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const invoice = invoiceLines(c.month, c.segments, c.presence);
        const period = monthOfText(c.month);
        expect(invoice.totalMinor).toBe(sum(invoice.lines.map((line) => line.amountMinor)));
        for (const line of invoice.lines) {
          expect(Number.isSafeInteger(line.amountMinor)).toBe(true);
          expect(line.amountMinor).toBeGreaterThanOrEqual(0);
          expect(line.quantity).toBeGreaterThanOrEqual(0);
          expect(line.unitAmountMinor).toBeGreaterThanOrEqual(0);
          expect(line.periodStart.getTime()).toBeGreaterThanOrEqual(period.start.getTime());
          expect(line.periodEnd.getTime()).toBeLessThanOrEqual(period.end.getTime());
          expect(line.periodStart.getTime()).toBeLessThan(line.periodEnd.getTime());
        }
      }),
    );
  });

  it('charges a whole month on one plan exactly its price', () => {
    fc.assert(
      fc.property(
        monthArb,
        priceArb,
        fc.integer({ min: 0, max: 5 * DAY_MS }),
        fc.boolean(),
        (month, price, before, open) => {
          const period = monthOfText(month);
          const whole = segment({
            startsAt: new Date(period.start.getTime() - before),
            endsAt: open ? null : period.end,
            priceMinor: price,
            deviceDayPriceMinor: 0,
          });
          const invoice = invoiceLines(month, [whole], []);
          expect(invoice.totalMinor).toBe(price);
          expect(invoice.lines[0]).toMatchObject({
            kind: 'PLAN_FEE',
            quantity: period.days * 86_400,
            amountMinor: price,
          });
        },
      ),
    );
  });

  it('changes the fee by at most one minor unit per split of a segment, and the usage not at all', () => {
    fc.assert(
      fc.property(
        caseArb.filter((c) => c.segments.some((s) => s.billable)),
        fc.nat(),
        fc.uniqueArray(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 4 }),
        (c, pick, fractions) => {
          const billable = c.segments.filter((s) => s.billable);
          const chosen = billable[pick % billable.length]!;
          const period = monthOfText(c.month);
          const start = Math.max(chosen.startsAt.getTime(), period.start.getTime());
          const end = Math.min(chosen.endsAt?.getTime() ?? Infinity, period.end.getTime());
          if (!(start < end)) return;
          const cuts = [...new Set(fractions.map((f) => Math.floor(start + f * (end - start))))]
            .filter((cut) => cut > chosen.startsAt.getTime() && cut < (chosen.endsAt?.getTime() ?? Infinity))
            .sort((a, b) => a - b);
          const bounds = [chosen.startsAt.getTime(), ...cuts];
          const pieces = bounds.map((from, i) =>
            segment({
              ...chosen,
              startsAt: new Date(from),
              endsAt: i + 1 < bounds.length ? new Date(bounds[i + 1]!) : chosen.endsAt,
            }),
          );
          const split = c.segments.flatMap((s) => (s === chosen ? pieces : [s]));
          const whole = invoiceLines(c.month, c.segments, c.presence);
          const parts = invoiceLines(c.month, split, c.presence);
          expect(Math.abs(fees(parts) - fees(whole))).toBeLessThanOrEqual(cuts.length);
          expect(usage(parts)).toBe(usage(whole));
        },
      ),
    );
  });

  it('charges nothing for trialing or canceled time', () => {
    fc.assert(
      fc.property(caseArb, fc.nat(), (c, pick) => {
        const unbillable = c.segments.map((s) => ({ ...s, billable: false }));
        const none = invoiceLines(c.month, unbillable, c.presence);
        expect(none.lines).toEqual([]);
        expect(none.totalMinor).toBe(0);
        if (c.segments.length === 0) return;
        // Making one segment unbillable takes away exactly its own lines (those starting where it
        // starts, in whole seconds within the month), and changes no other.
        const index = pick % c.segments.length;
        const chosen = c.segments[index]!;
        const period = monthOfText(c.month);
        const second = (instant: Date | null) =>
          instant === null ? Infinity : Math.floor(instant.getTime() / 1_000) * 1_000;
        const startsAt = Math.max(second(chosen.startsAt), period.start.getTime());
        const inMonth = startsAt < Math.min(second(chosen.endsAt), period.end.getTime());
        const before = invoiceLines(c.month, c.segments, c.presence);
        const after = invoiceLines(
          c.month,
          c.segments.map((s, i) => (i === index ? { ...s, billable: false } : s)),
          c.presence,
        );
        expect(after.lines).toEqual(
          before.lines.filter((line) => !inMonth || line.periodStart.getTime() !== startsAt),
        );
        expect(after.totalMinor).toBeLessThanOrEqual(before.totalMinor);
      }),
    );
  });

  it('counts at most every device on every day of the month', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const invoice = invoiceLines(c.month, c.segments, c.presence);
        const days = monthOfText(c.month).days;
        expect(invoice.deviceDays).toBeLessThanOrEqual(devicesOf(c.presence) * days);
        const billed = sum(
          invoice.lines.filter((line) => line.kind === 'DEVICE_USAGE').map((line) => line.quantity),
        );
        expect(billed).toBeLessThanOrEqual(invoice.deviceDays);
      }),
    );
  });

  it('never lowers the total for one more device-day', () => {
    fc.assert(
      fc.property(
        caseArb,
        fc.constantFrom('d1', 'd9'),
        fc.integer({ min: 0, max: 30 }),
        (c, deviceId, dayIndex) => {
          const period = monthOfText(c.month);
          const day = Math.min(dayIndex, period.days - 1);
          const from = period.start.getTime() + day * DAY_MS + 3_600_000;
          const more = [...c.presence, { deviceId, from: new Date(from), until: new Date(from + 60_000) }];
          const before = invoiceLines(c.month, c.segments, c.presence);
          const after = invoiceLines(c.month, c.segments, more);
          expect(after.totalMinor).toBeGreaterThanOrEqual(before.totalMinor);
          expect(after.deviceDays).toBeGreaterThanOrEqual(before.deviceDays);
          expect(after.deviceDays).toBeLessThanOrEqual(before.deviceDays + 1);
        },
      ),
    );
  });
});

// --- months worked out by hand ----------------------------------------------------------------

describe('the invoice arithmetic, on months worked out by hand', () => {
  it('prorates a change of plan at noon on the 11th of a 30-day month, and gives the day to the plan of its start', () => {
    // April 2026: 30 days, 2,592,000 s. Pro until 2026-04-11T12:00Z: 10.5 days, 907,200 s;
    // Enterprise after it: 19.5 days, 1,684,800 s.
    const invoice = invoiceLines(
      '2026-04',
      [
        segment({ startsAt: at('2026-03-20T08:00:00Z'), endsAt: at('2026-04-11T12:00:00Z') }),
        segment({
          planId: 'enterprise',
          startsAt: at('2026-04-11T12:00:00Z'),
          priceMinor: 99_900,
          deviceDayPriceMinor: 3,
        }),
      ],
      [
        device('a', '2026-01-01T00:00:00Z'),
        device('b', '2026-02-01T00:00:00Z', '2026-06-01T00:00:00Z'),
        // The 11th (Pro at its start) and the 12th (Enterprise).
        device('c', '2026-04-11T13:00:00Z', '2026-04-12T01:00:00Z'),
      ],
    );
    expect(invoice).toEqual({
      period: '2026-04',
      currency: 'EUR',
      deviceDays: 62,
      lines: [
        {
          kind: 'PLAN_FEE',
          description: 'Plan pro, 2026-04-01 00:00:00 to 2026-04-11 12:00:00 UTC',
          planId: 'pro',
          periodStart: at('2026-04-01T00:00:00Z'),
          periodEnd: at('2026-04-11T12:00:00Z'),
          quantity: 907_200,
          unitAmountMinor: 4_900,
          // 4,900 × 907,200 / 2,592,000 = 4,900 × 0.35
          amountMinor: 1_715,
        },
        {
          kind: 'DEVICE_USAGE',
          description: 'Device-days on plan pro, 2026-04-01 00:00:00 to 2026-04-11 12:00:00 UTC',
          planId: 'pro',
          periodStart: at('2026-04-01T00:00:00Z'),
          periodEnd: at('2026-04-11T12:00:00Z'),
          // Days 1 to 11 for a and b, the 11th for c.
          quantity: 23,
          unitAmountMinor: 5,
          amountMinor: 115,
        },
        {
          kind: 'PLAN_FEE',
          description: 'Plan enterprise, 2026-04-11 12:00:00 to 2026-05-01 00:00:00 UTC',
          planId: 'enterprise',
          periodStart: at('2026-04-11T12:00:00Z'),
          periodEnd: at('2026-05-01T00:00:00Z'),
          quantity: 1_684_800,
          unitAmountMinor: 99_900,
          // 99,900 × 0.65
          amountMinor: 64_935,
        },
        {
          kind: 'DEVICE_USAGE',
          description: 'Device-days on plan enterprise, 2026-04-11 12:00:00 to 2026-05-01 00:00:00 UTC',
          planId: 'enterprise',
          periodStart: at('2026-04-11T12:00:00Z'),
          periodEnd: at('2026-05-01T00:00:00Z'),
          // Days 12 to 30 for a and b, the 12th for c.
          quantity: 39,
          unitAmountMinor: 3,
          amountMinor: 117,
        },
      ],
      totalMinor: 1_715 + 115 + 64_935 + 117,
    });
  });

  it('rounds each line half up, in a 31-day month', () => {
    // March 2026: 2,678,400 s. Ten days of Pro: 4,900 × 864,000 / 2,678,400 = 1,580.65 → 1,581.
    const tenDays = invoiceLines(
      '2026-03',
      [segment({ startsAt: at('2026-03-01T00:00:00Z'), endsAt: at('2026-03-11T00:00:00Z') })],
      [],
    );
    expect(fees(tenDays)).toBe(1_581);
    // A fee of 1 over 15.5 days each side of the middle: 0.5 and 0.5, each rounded up to 1.
    const halves = invoiceLines(
      '2026-03',
      [
        segment({ startsAt: at('2026-03-01T00:00:00Z'), endsAt: at('2026-03-16T12:00:00Z'), priceMinor: 1 }),
        segment({ startsAt: at('2026-03-16T12:00:00Z'), priceMinor: 1 }),
      ],
      [],
    );
    expect(halves.lines.filter((l) => l.kind === 'PLAN_FEE').map((l) => l.amountMinor)).toEqual([1, 1]);
    // Just under the half rounds down: 1,339,199 s of 2,678,400.
    const under = invoiceLines(
      '2026-03',
      [segment({ startsAt: at('2026-03-01T00:00:00Z'), endsAt: at('2026-03-16T11:59:59Z'), priceMinor: 1 })],
      [],
    );
    expect(fees(under)).toBe(0);
  });

  it('bills February of a common year in 28 days, and nothing once canceled', () => {
    // February 2026: 2,419,200 s. Pro for 14 days: exactly half the fee. A device all month:
    // 14 device-days on Pro, the other 14 on the canceled segment, which bills nothing.
    const invoice = invoiceLines(
      '2026-02',
      [
        segment({ startsAt: at('2026-01-01T00:00:00Z'), endsAt: at('2026-02-15T00:00:00Z') }),
        segment({ planId: 'free', startsAt: at('2026-02-15T00:00:00Z'), billable: false, priceMinor: 0 }),
      ],
      [device('a', '2026-01-10T00:00:00Z')],
    );
    expect(invoice.lines.map((l) => [l.kind, l.quantity, l.amountMinor])).toEqual([
      ['PLAN_FEE', 1_209_600, 2_450],
      ['DEVICE_USAGE', 14, 70],
    ]);
    expect(invoice.totalMinor).toBe(2_520);
    expect(invoice.deviceDays).toBe(28);
  });

  it('bills February of a leap year in 29 days, its 29th included', () => {
    // February 2028: 2,505,600 s. Pro from the 15th: 15 days, 4,900 × 15 / 29 = 2,534.48 → 2,534.
    // Device a from the 10th: 20 days, of which the 10th to the 14th belong to no segment.
    // Device b for the last second of the 29th.
    const invoice = invoiceLines(
      '2028-02',
      [segment({ startsAt: at('2028-02-15T00:00:00Z') })],
      [device('a', '2028-02-10T08:00:00Z'), device('b', '2028-02-29T23:59:59Z', '2028-03-01T00:00:00Z')],
    );
    expect(invoice.lines.map((l) => [l.kind, l.quantity, l.amountMinor])).toEqual([
      ['PLAN_FEE', 1_296_000, 2_534],
      ['DEVICE_USAGE', 16, 80],
    ]);
    expect(invoice.totalMinor).toBe(2_614);
    expect(invoice.deviceDays).toBe(21);
    // A whole leap February on one plan costs its price, not 29/28 of it.
    expect(invoiceLines('2028-02', [segment({ startsAt: at('2028-01-01T00:00:00Z') })], []).totalMinor).toBe(
      4_900,
    );
  });

  it('gives a device-day to the first segment of a day that began without one', () => {
    // Pro starts at 06:00 on the 3rd: the 3rd and 4th are Pro's, the 1st and 2nd no segment's.
    const invoice = invoiceLines(
      '2026-04',
      [segment({ startsAt: at('2026-04-03T06:00:00Z'), priceMinor: 0 })],
      [device('a', '2026-04-01T00:00:00Z', '2026-04-05T00:00:00Z')],
    );
    expect(invoice.lines.find((l) => l.kind === 'DEVICE_USAGE')?.quantity).toBe(2);
    expect(invoice.deviceDays).toBe(4);
  });

  it('counts a device across a month boundary in each month it touched', () => {
    const presence = [device('a', '2026-03-31T23:00:00Z', '2026-04-01T01:00:00Z')];
    const plan = [segment({ startsAt: at('2026-01-01T00:00:00Z'), priceMinor: 0 })];
    expect(invoiceLines('2026-03', plan, presence).deviceDays).toBe(1);
    expect(invoiceLines('2026-04', plan, presence).deviceDays).toBe(1);
    // Removed at midnight: it did not reach the next day.
    const atMidnight = [device('b', '2026-03-30T10:00:00Z', '2026-04-01T00:00:00Z')];
    expect(invoiceLines('2026-03', plan, atMidnight).deviceDays).toBe(2);
    expect(invoiceLines('2026-04', plan, atMidnight).deviceDays).toBe(0);
  });

  it('keeps the exact amount where price × seconds passes 2^53', () => {
    // Half of July 2026 (1,339,200 s of 2,678,400): 30,000,000,007 × 1,339,200 is about 4e16.
    const invoice = invoiceLines(
      '2026-07',
      [
        segment({
          startsAt: at('2026-07-01T00:00:00Z'),
          endsAt: at('2026-07-16T12:00:00Z'),
          priceMinor: 30_000_000_007,
        }),
      ],
      [],
    );
    // 30,000,000,007 / 2 = 15,000,000,003.5 → 15,000,000,004 (half up).
    expect(fees(invoice)).toBe(15_000_000_004);
  });

  it('refuses a malformed month, overlapping segments and two currencies in one invoice', () => {
    for (const month of ['2026-13', '2026-1', '26-01', '0005-01', 'march', '2026-00', ' 2026-01'])
      expect(() => invoiceLines(month, [], [])).toThrow(RangeError);
    expect(() =>
      invoiceLines(
        '2026-04',
        [
          segment({ startsAt: at('2026-04-01T00:00:00Z'), endsAt: at('2026-04-10T00:00:00Z') }),
          segment({ startsAt: at('2026-04-09T00:00:00Z') }),
        ],
        [],
      ),
    ).toThrow(OverlappingSegmentsError);
    expect(() =>
      invoiceLines(
        '2026-04',
        [
          segment({ startsAt: at('2026-04-01T00:00:00Z'), endsAt: at('2026-04-10T00:00:00Z') }),
          segment({ startsAt: at('2026-04-10T00:00:00Z'), currency: 'USD' }),
        ],
        [],
      ),
    ).toThrow(MixedCurrencyError);
    expect(() =>
      invoiceLines('2026-04', [segment({ startsAt: at('2026-04-01T00:00:00Z'), priceMinor: -1 })], []),
    ).toThrow(RangeError);
  });

  it('answers no lines and no currency for a month without segments, yet counts its devices', () => {
    const invoice = invoiceLines('2026-04', [], [device('a', '2026-04-30T23:00:00Z')]);
    expect(invoice).toEqual({ period: '2026-04', currency: null, lines: [], totalMinor: 0, deviceDays: 1 });
  });
});
