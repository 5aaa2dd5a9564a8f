import type { ColumnType, Generated } from 'kysely';
import type { EventActor } from '@fleet/outbox';

export interface AuditDatabase {
  audit_event: {
    position: number;
    id: string;
    source: string;
    aggregate_type: string;
    aggregate_id: string;
    sequence: number;
    event_type: string;
    tenant_id: string | null;
    actor: ColumnType<EventActor, string, never>;
    payload: ColumnType<Record<string, unknown>, string, never>;
    occurred_at: ColumnType<Date, string, never>;
    recorded_at: Generated<Date>;
    previous_hash: string;
    hash: string;
  };
  chain_head: {
    id: number;
    position: number;
    hash: string;
  };
}
