import type { Kysely } from 'kysely';
import type { ChainedEvent } from '@fleet/audit-chain';
import type { EventScope } from '../access/policy.js';
import type { AuditDatabase } from '../database/schema.js';
import { chainedEventOf, type EventRow } from '../store/event-rows.js';

/** A stored event with its link in the chain. */
export interface RecordedEvent extends ChainedEvent {
  previousHash: string;
  hash: string;
}

export type RecordedRow = EventRow & { previous_hash: string; hash: string };

/**
 * The events a scope may read. A tenant's scope is a condition of the query, not a check after
 * the read: a page is never short of, or padded with, another tenant's events. Events pruned
 * under a retention seal have no body left and are not listed.
 */
export function scopedEvents(db: Kysely<AuditDatabase>, scope: EventScope) {
  const query = db.selectFrom('audit_event as e').selectAll('e');
  return scope.kind === 'all' ? query : query.where('e.tenant_id', '=', scope.tenantId);
}

/** Positions per lookup of links: far below PostgreSQL's 65,535 parameters. */
const LINKS_PER_QUERY = 1_000;

/**
 * A page of events with their links, in the page's order. The page is read from the events
 * alone, then the links by primary key: joined in one query, PostgreSQL merges the two tables
 * and walks every link up to a deep cursor's position (150 ms at 500,000 events back) before
 * the limit applies.
 */
export async function withLinks(
  db: Kysely<AuditDatabase>,
  page: { execute(): Promise<EventRow[]> },
): Promise<RecordedRow[]> {
  const rows = await page.execute();
  const links = new Map<number, { previous_hash: string; hash: string }>();
  for (let i = 0; i < rows.length; i += LINKS_PER_QUERY) {
    const positions = rows.slice(i, i + LINKS_PER_QUERY).map((row) => row.position);
    const found = await db
      .selectFrom('audit_link')
      .select(['position', 'previous_hash', 'hash'])
      .where('position', 'in', positions)
      .execute();
    for (const link of found) links.set(link.position, link);
  }
  return rows.map((row) => {
    const link = links.get(row.position);
    // Every body is appended with its link: a missing one is a broken store.
    if (!link) throw new Error(`The event at position ${row.position} has no link`);
    return { ...row, previous_hash: link.previous_hash, hash: link.hash };
  });
}

export function recordedEventOf(row: RecordedRow): RecordedEvent {
  return { ...chainedEventOf(row), previousHash: row.previous_hash, hash: row.hash };
}

/** An event as the AuditEvent type shows it: positions outgrow GraphQL's 32-bit Int. */
export function auditEventToGraphQL(event: RecordedEvent) {
  return { ...event, position: String(event.position) };
}
