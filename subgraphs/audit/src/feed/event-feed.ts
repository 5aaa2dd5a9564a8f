import { sql, type Kysely } from 'kysely';
import { HttpError, sendJson, type SignedRoute } from '@fleet/service-kit';
import type { AuditDatabase } from '../database/schema.js';

/**
 * The event feed: `POST /feed`, a signed route for services that follow other services' events
 * (billing meters devices' `device.created` and `device.removed`). It answers, after a position,
 * a bounded page of the events of one source and some types, in position order: their
 * position, id, type, entity and tenant ids and time, never a payload or an actor. Positions are
 * handed out in commit order under the chain's lock, so a reader that continues after the last
 * position it saw misses nothing that commits later. Events pruned under retention are gone
 * from the feed as from the log.
 */

export const FEED_PATH = '/feed';

export interface FeedRequest {
  source: string;
  types: string[];
  /** The last position the reader has seen; 0 for the start of the log. */
  after: number;
  limit: number;
}

export interface FeedEvent {
  position: number;
  id: string;
  type: string;
  aggregateId: string;
  tenantId: string | null;
  occurredAt: string;
}

export interface FeedPage {
  events: FeedEvent[];
}

const NAME = /^[a-z][a-z0-9_.-]{0,63}$/;
const MAX_TYPES = 20;
export const MAX_FEED_LIMIT = 1_000;
const DEFAULT_LIMIT = 500;

/** Checks a feed request; the error names the first bad field. */
export function validateFeedRequest(value: unknown): { request: FeedRequest } | { error: string } {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return { error: 'The body must be a JSON object' };
  const { source, types, after, limit } = value as Record<string, unknown>;
  if (typeof source !== 'string' || !NAME.test(source))
    return { error: 'source must be the name of a service, e.g. "devices"' };
  if (
    !Array.isArray(types) ||
    types.length === 0 ||
    types.length > MAX_TYPES ||
    !types.every((type) => typeof type === 'string' && NAME.test(type))
  )
    return { error: `types must be 1 to ${MAX_TYPES} event types, e.g. ["device.created"]` };
  if (typeof after !== 'number' || !Number.isSafeInteger(after) || after < 0)
    return { error: 'after must be a position: a whole number from 0' };
  if (
    limit !== undefined &&
    (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 1 || limit > MAX_FEED_LIMIT)
  )
    return { error: `limit must be a whole number from 1 to ${MAX_FEED_LIMIT}` };
  return {
    request: { source, types: [...new Set(types as string[])], after, limit: limit ?? DEFAULT_LIMIT },
  };
}

interface FeedRow {
  position: number;
  id: string;
  event_type: string;
  aggregate_id: string;
  tenant_id: string | null;
  occurred_at: Date;
}

/**
 * One page of the feed. Each type is read on its own along the (event_type, position) index,
 * and the pages merged: however far behind the reader is, no more than `limit` rows per type
 * are read.
 */
export async function readFeed(db: Kysely<AuditDatabase>, request: FeedRequest): Promise<FeedPage> {
  const perType = request.types.map(
    (type) => sql`(
      select position, id, event_type, aggregate_id, tenant_id, occurred_at from audit_event
      where event_type = ${type} and source = ${request.source} and position > ${request.after}
      order by position limit ${request.limit})`,
  );
  const { rows } = await sql<FeedRow>`
    select * from (${sql.join(perType, sql` union all `)}) as feed
    order by position limit ${request.limit}`.execute(db);
  return {
    events: rows.map((row) => ({
      position: Number(row.position),
      id: row.id,
      type: row.event_type,
      aggregateId: row.aggregate_id,
      tenantId: row.tenant_id,
      occurredAt: row.occurred_at.toISOString(),
    })),
  };
}

/** `POST /feed`, accepted from the callers named in `readers` only, each with its pair's key. */
export function feedRoute(db: Kysely<AuditDatabase>, readers: ReadonlyMap<string, Buffer>): SignedRoute {
  return {
    keys: readers,
    async handle(request, body, res) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(body.toString('utf8'));
      } catch {
        throw new HttpError(400, 'Malformed JSON in request body');
      }
      const checked = validateFeedRequest(parsed);
      if ('error' in checked) throw new HttpError(400, checked.error);
      const page = await readFeed(db, checked.request);
      request.logger.debug(
        { reader: request.caller, source: checked.request.source, events: page.events.length },
        'feed read',
      );
      sendJson(res, 200, page);
    },
  };
}
