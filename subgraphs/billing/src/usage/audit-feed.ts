import { signedPost, type MutualTls } from '@fleet/service-kit';

/**
 * Billing's side of audit's event feed (`POST /feed` on audit): a page of one source's events
 * of some types after a position, signed with the key billing ships its own events to audit
 * with. Audit answers positions in commit order, so continuing after the last position seen
 * misses nothing.
 */

/** An event as the feed gives it: ids, type and time, never a payload. */
export interface FeedEvent {
  position: number;
  id: string;
  type: string;
  aggregateId: string;
  tenantId: string | null;
  occurredAt: string;
}

export interface EventFeed {
  /** The source's next events of the feed's types after `position`, at most `limit`, in order. */
  after(position: number, limit: number): Promise<FeedEvent[]>;
}

export interface AuditFeedOptions {
  /** Base URL of the audit service. */
  auditUrl: string;
  /** The key of the billing/audit pair. */
  key: Buffer;
  source: string;
  types: readonly string[];
  timeoutMs?: number;
  /** Mutual TLS of the caller; undefined only where it was turned off. */
  tls?: MutualTls | undefined;
}

/** The feed of `source`'s events of `types`, read from audit. */
export function auditFeed(options: AuditFeedOptions): EventFeed {
  return {
    async after(position, limit) {
      const response = await signedPost({
        caller: 'billing',
        audience: 'audit',
        key: options.key,
        baseUrl: options.auditUrl,
        path: '/feed',
        body: JSON.stringify({ source: options.source, types: options.types, after: position, limit }),
        ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
        tls: options.tls,
      });
      if (!response.ok) {
        await response.body?.cancel();
        throw new Error(`audit answered ${response.status} to a read of the event feed`);
      }
      return feedEventsOf(await response.json(), position);
    },
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The events of a feed page, checked: ids, increasing positions past `after`, real times. */
function feedEventsOf(body: unknown, after: number): FeedEvent[] {
  const events = (body as { events?: unknown } | null)?.events;
  if (!Array.isArray(events)) throw new Error('audit answered a feed page without events');
  let last = after;
  return events.map((value: unknown, index) => {
    const event = value as Partial<FeedEvent> | null;
    const valid =
      typeof event?.position === 'number' &&
      Number.isSafeInteger(event.position) &&
      event.position > last &&
      typeof event.id === 'string' &&
      UUID.test(event.id) &&
      typeof event.type === 'string' &&
      typeof event.aggregateId === 'string' &&
      (event.tenantId === null || typeof event.tenantId === 'string') &&
      typeof event.occurredAt === 'string' &&
      !Number.isNaN(Date.parse(event.occurredAt));
    if (!valid) throw new Error(`audit answered a malformed feed event at index ${index}`);
    last = event.position!;
    return {
      position: event.position!,
      id: event.id!.toLowerCase(),
      type: event.type!,
      aggregateId: event.aggregateId!,
      tenantId: event.tenantId!,
      occurredAt: event.occurredAt!,
    };
  });
}
