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
 * The events a scope may read, each with its link. A tenant's scope is a condition of the query,
 * not a check after the read: a page is never short of, or padded with, another tenant's events.
 * Events pruned under a retention seal have no body left and are not listed.
 */
export function scopedEvents(db: Kysely<AuditDatabase>, scope: EventScope) {
  const query = db
    .selectFrom('audit_event as e')
    .innerJoin('audit_link as l', 'l.position', 'e.position')
    .selectAll('e')
    .select(['l.previous_hash', 'l.hash']);
  return scope.kind === 'all' ? query : query.where('e.tenant_id', '=', scope.tenantId);
}

export function recordedEventOf(row: RecordedRow): RecordedEvent {
  return { ...chainedEventOf(row), previousHash: row.previous_hash, hash: row.hash };
}

/** An event as the AuditEvent type shows it: positions outgrow GraphQL's 32-bit Int. */
export function auditEventToGraphQL(event: RecordedEvent) {
  return { ...event, position: String(event.position) };
}
