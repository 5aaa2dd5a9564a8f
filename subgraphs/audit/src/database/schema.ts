import type { ColumnType } from 'kysely';

/** The audit database. Every table but chain_head and audit_retention is append-only. */
export interface AuditDatabase {
  /** One per position of the chain, kept for good (an event's body may be pruned, its link never). */
  audit_link: {
    position: number;
    event_id: string;
    tenant_id: string | null;
    previous_hash: string;
    digest: string;
    hash: string;
  };
  /** The event at a position, as recorded; removed only under a retention seal. */
  audit_event: {
    position: number;
    id: string;
    source: string;
    aggregate_type: string;
    aggregate_id: string;
    sequence: number;
    event_type: string;
    tenant_id: string | null;
    actor_kind: string;
    actor_id: string | null;
    /** Canonical JSON text of the entity's state after the change. */
    payload: ColumnType<string, string, never>;
    occurred_at: ColumnType<Date, string, never>;
    recorded_at: ColumnType<Date, string, never>;
  };
  audit_checkpoint: {
    position: number;
    hash: string;
    /** ISO 8601 text, exactly as signed. */
    created_at: string;
    previous_signature: string | null;
    key_id: string;
    signature: string;
  };
  /** A retention seal: events exported, covered by a checkpoint, then pruned. */
  audit_seal: {
    id: string;
    tenant_id: string | null;
    recorded_before: ColumnType<Date, string, never>;
    from_position: number;
    to_position: number;
    events: number;
    export_file: string;
    export_sha256: string;
    checkpoint_position: number;
    created_at: ColumnType<Date, string | undefined, never>;
  };
  /** Per-tenant retention, in days; the key '*' holds the default for every other tenant and for platform events. */
  audit_retention: {
    tenant_id: string;
    days: number;
    updated_at: ColumnType<Date, string | undefined, string>;
  };
  /** The last link: its position and hash, locked by each append. */
  chain_head: {
    id: number;
    position: number;
    hash: string;
  };
}
