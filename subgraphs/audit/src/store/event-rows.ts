import type { Selectable } from 'kysely';
import type { ChainedEvent } from '@fleet/audit-chain';
import type { AuditDatabase } from '../database/schema.js';

export type EventRow = Selectable<AuditDatabase['audit_event']>;
export type LinkRow = Selectable<AuditDatabase['audit_link']>;

/** A stored event as the chain covers it. */
export function chainedEventOf(row: EventRow): ChainedEvent {
  return {
    position: row.position,
    id: row.id,
    source: row.source,
    aggregateType: row.aggregate_type,
    aggregateId: row.aggregate_id,
    sequence: row.sequence,
    type: row.event_type,
    tenantId: row.tenant_id,
    actor: { kind: row.actor_kind, id: row.actor_id },
    occurredAt: row.occurred_at.toISOString(),
    recordedAt: row.recorded_at.toISOString(),
    payload: JSON.parse(row.payload) as Record<string, unknown>,
  };
}
