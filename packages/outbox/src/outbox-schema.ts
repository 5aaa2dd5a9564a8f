import { sql, type ColumnType, type Generated, type Kysely, type Migration } from 'kysely';
import type { EventActor } from './event.js';

/** The tables the outbox adds to a service's database. */
export interface OutboxTables {
  outbox: {
    id: string;
    position: Generated<number>;
    aggregate_type: string;
    aggregate_id: string;
    sequence: number;
    event_type: string;
    tenant_id: string | null;
    actor: ColumnType<EventActor, string, never>;
    payload: ColumnType<Record<string, unknown>, string, never>;
    occurred_at: Generated<Date>;
    claimed_until: Date | null;
  };
  outbox_sequence: {
    aggregate_type: string;
    aggregate_id: string;
    last_sequence: number;
  };
}

/**
 * The migration that creates the outbox. Each producing service lists it among its own
 * migrations, under the name `OUTBOX_MIGRATION_NAME`.
 */
export const OUTBOX_MIGRATION_NAME = '0000-outbox';

export const outboxMigration: Migration = {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations are untyped by design
  async up(db: Kysely<any>) {
    await sql`
      create table outbox (
        id uuid primary key,
        position bigint generated always as identity,
        aggregate_type text not null,
        aggregate_id text not null,
        sequence bigint not null,
        event_type text not null,
        tenant_id text,
        actor jsonb not null,
        payload jsonb not null,
        occurred_at timestamptz not null default now(),
        claimed_until timestamptz,
        unique (aggregate_type, aggregate_id, sequence)
      )`.execute(db);
    await sql`create index outbox_position on outbox (position)`.execute(db);
    await sql`
      create table outbox_sequence (
        aggregate_type text not null,
        aggregate_id text not null,
        last_sequence bigint not null,
        primary key (aggregate_type, aggregate_id)
      )`.execute(db);
  },
};

/**
 * Views a service's database, which must include the outbox tables, as those tables. Kysely's
 * types are invariant in the database type, so this one cast is needed.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the one cast, kept here
export function outboxTablesOf(db: Kysely<any>): Kysely<OutboxTables> {
  return db as Kysely<OutboxTables>;
}
