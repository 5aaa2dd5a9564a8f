/**
 * An event as it travels from a service's outbox to audit. It names the entity changed and
 * carries its state after the change, so audit can show the entity at any moment. It carries
 * ids, never PII.
 */
export interface OutboxEvent {
  /** Unique id; audit ingests each id once. */
  id: string;
  /** The service that owns the entity. */
  source: string;
  aggregateType: string;
  aggregateId: string;
  /** Position of this change in the entity's own history, from 1. */
  sequence: number;
  type: string;
  tenantId: string | null;
  /** Who made the change: a kind and an id, no names. */
  actor: EventActor;
  occurredAt: string;
  /** The entity's state after the change. */
  payload: Record<string, unknown>;
}

export interface EventActor {
  kind: 'anonymous' | 'user' | 'apiKey' | 'system';
  id: string | null;
}

export interface IngestBody {
  events: OutboxEvent[];
}

/** An event as a table row stores it: the outbox's, and audit's log alike. */
export interface EventRow {
  id: string;
  aggregate_type: string;
  aggregate_id: string;
  sequence: number;
  event_type: string;
  tenant_id: string | null;
  actor: EventActor;
  payload: Record<string, unknown>;
  occurred_at: Date;
}

export function eventFromRow(source: string, row: EventRow): OutboxEvent {
  return {
    id: row.id,
    source,
    aggregateType: row.aggregate_type,
    aggregateId: row.aggregate_id,
    sequence: row.sequence,
    type: row.event_type,
    tenantId: row.tenant_id,
    actor: row.actor,
    occurredAt: row.occurred_at.toISOString(),
    payload: row.payload,
  };
}
