import { sql, type Kysely, type Migration } from 'kysely';
import { GENESIS_HASH } from '../chain/hash-chain.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- migrations are untyped by design */
export const migrations: Record<string, Migration> = {
  '0001-event-log': {
    async up(db: Kysely<any>) {
      await sql`
        create table audit_event (
          position bigint primary key,
          id uuid not null unique,
          source text not null,
          aggregate_type text not null,
          aggregate_id text not null,
          sequence bigint not null,
          event_type text not null,
          tenant_id text,
          actor jsonb not null,
          payload jsonb not null,
          occurred_at timestamptz not null,
          recorded_at timestamptz not null default now(),
          previous_hash text not null,
          hash text not null,
          unique (source, aggregate_type, aggregate_id, sequence)
        )`.execute(db);
      await sql`create index audit_event_aggregate on audit_event (aggregate_type, aggregate_id, sequence)`.execute(
        db,
      );
      await sql`
        create table chain_head (
          id int primary key check (id = 1),
          position bigint not null,
          hash text not null
        )`.execute(db);
      await sql`insert into chain_head (id, position, hash) values (1, 0, ${GENESIS_HASH})`.execute(db);
    },
  },
};
