import { sql, type Kysely } from 'kysely';
import { BadUserInputError, type Logger } from '@fleet/service-kit';
import type { BillingDatabase } from '../database/schema.js';
import { monthOfText } from '../invoices/month-text.js';
import { monthBounds, monthOf } from '../subscriptions/billing-month.js';
import type { EventFeed, FeedEvent } from './audit-feed.js';
import { deviceDaysIn, type MonthBounds, type PresenceInterval } from './device-days.js';

/** The feed billing meters: devices' creations and removals. */
export const DEVICE_FEED = { source: 'devices', types: ['device.created', 'device.removed'] } as const;

const PAGE_SIZE = 500;
/** Pages one run reads at most; the next run goes on from there. */
const MAX_PAGES_PER_RUN = 20;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A tenant's usage of a month: device-days so far, and devices now. */
export interface MonthUsage {
  month: string;
  deviceDays: number;
  devices: number;
}

/**
 * Meters device-days from devices' events, read from audit's feed after a cursor. Each page is
 * applied in one transaction with the cursor: an event id is recorded once (metered_event), and
 * only an event recorded now changes a device's presence, so a page read twice, a cursor set
 * back or two replicas reading the same page count nothing twice. Presence is kept per device:
 * its creation and its removal, whichever is learnt first.
 */
export class UsageMeter {
  readonly #db: Kysely<BillingDatabase>;
  readonly #feed: EventFeed;
  readonly #logger: Logger | undefined;
  readonly #now: () => Date;

  constructor(options: { db: Kysely<BillingDatabase>; feed: EventFeed; logger?: Logger; now?: () => Date }) {
    this.#db = options.db;
    this.#feed = options.feed;
    this.#logger = options.logger;
    this.#now = options.now ?? (() => new Date());
  }

  /**
   * Reads and meters the feed until it is caught up, or a run's pages are read: answers the
   * events newly metered, and whether the feed had nothing more.
   */
  async poll(): Promise<{ metered: number; caughtUp: boolean }> {
    let metered = 0;
    for (let page = 0; page < MAX_PAGES_PER_RUN; page++) {
      const cursor = await this.cursor();
      const events = await this.#feed.after(cursor, PAGE_SIZE);
      if (events.length > 0) metered += await this.#apply(events);
      if (events.length < PAGE_SIZE) return { metered, caughtUp: true };
    }
    return { metered, caughtUp: false };
  }

  /** The last position metered. */
  async cursor(): Promise<number> {
    const row = await this.#db
      .selectFrom('usage_cursor')
      .select('position')
      .where('feed', '=', DEVICE_FEED.source)
      .executeTakeFirst();
    return row?.position ?? 0;
  }

  async #apply(events: readonly FeedEvent[]): Promise<number> {
    const last = events.at(-1)!.position;
    return this.#db.transaction().execute(async (trx) => {
      const fresh = await trx
        .insertInto('metered_event')
        .values(events.map((e) => ({ event_id: e.id, position: e.position, event_type: e.type })))
        .onConflict((oc) => oc.column('event_id').doNothing())
        .returning('event_id')
        .execute();
      const freshIds = new Set(fresh.map((row) => row.event_id));
      for (const event of events) {
        if (!freshIds.has(event.id)) continue;
        if (!event.tenantId || !UUID.test(event.tenantId)) {
          this.#logger?.warn({ eventId: event.id }, 'a device event without a tenant: metered as nothing');
          continue;
        }
        const tenantId = event.tenantId.toLowerCase();
        const at = new Date(event.occurredAt);
        const deviceId = event.aggregateId.toLowerCase();
        if (event.type === 'device.created') {
          await trx
            .insertInto('device_presence')
            .values({ device_id: deviceId, tenant_id: tenantId, present_from: at, present_until: null })
            .onConflict((oc) =>
              oc.column('device_id').doUpdateSet({
                // least and greatest pass over nulls: the other end may have come first.
                present_from: sql`least(device_presence.present_from, excluded.present_from)`,
              }),
            )
            .execute();
        } else if (event.type === 'device.removed') {
          await trx
            .insertInto('device_presence')
            .values({ device_id: deviceId, tenant_id: tenantId, present_from: null, present_until: at })
            .onConflict((oc) =>
              oc.column('device_id').doUpdateSet({
                present_until: sql`greatest(device_presence.present_until, excluded.present_until)`,
              }),
            )
            .execute();
        }
      }
      await trx
        .insertInto('usage_cursor')
        .values({ feed: DEVICE_FEED.source, position: last })
        .onConflict((oc) =>
          oc.column('feed').doUpdateSet({
            // Two replicas may apply pages out of order: the cursor only moves on.
            position: sql`greatest(usage_cursor.position, excluded.position)`,
            updated_at: sql`now()`,
          }),
        )
        .execute();
      return freshIds.size;
    });
  }

  /** The tenant's devices' presence that touches [start, end). */
  async presenceOf(tenantId: string, bounds: MonthBounds): Promise<PresenceInterval[]> {
    const rows = await this.#db
      .selectFrom('device_presence')
      .select(['device_id', 'present_from', 'present_until'])
      .where('tenant_id', '=', tenantId)
      .where('present_from', 'is not', null)
      .where('present_from', '<', bounds.end)
      .where((eb) => eb.or([eb('present_until', 'is', null), eb('present_until', '>', bounds.start)]))
      .execute();
    return rows.map((row) => ({
      deviceId: row.device_id,
      from: row.present_from!,
      until: row.present_until,
    }));
  }

  /**
   * A tenant's usage of a month (`YYYY-MM`; the current one when omitted): its device-days up to
   * now, and its devices now. Refuses a malformed month.
   */
  async usage(tenantId: string, month?: string | null): Promise<MonthUsage> {
    const now = this.#now();
    const bounds = month == null ? monthBounds(now) : monthOfText(month);
    if (!bounds) throw new BadUserInputError('month must be a month written YYYY-MM, e.g. 2026-03', 'month');
    const presence = await this.presenceOf(tenantId, bounds);
    const current = await this.#db
      .selectFrom('device_presence')
      .select((eb) => eb.fn.countAll<number>().as('devices'))
      .where('tenant_id', '=', tenantId)
      .where('present_from', '<=', now)
      .where((eb) => eb.or([eb('present_until', 'is', null), eb('present_until', '>', now)]))
      .executeTakeFirstOrThrow();
    return {
      month: monthOf(bounds.start),
      deviceDays: deviceDaysIn(bounds, presence, now),
      devices: Number(current.devices),
    };
  }
}
