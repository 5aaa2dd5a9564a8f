import { sql, type Kysely, type Migration } from 'kysely';
import { rechainVersion1Log } from './rechain-version-1.js';

const GENESIS_HASH = '0'.repeat(64);

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

  /**
   * The append-only store: the chain of links (never changed, never removed), the events' bodies
   * (never changed; removed only under a retention seal), signed checkpoints and seals. Triggers
   * refuse what the store forbids on every engine; on PostgreSQL the service's own role also
   * loses the privileges to do it. The log of 0001 is verified and carried over into the new
   * chain. An event's payload is kept as its canonical JSON text, exactly what its digest covers,
   * so verifying the log hashes what it reads without parsing it.
   */
  '0002-append-only-store': {
    async up(db: Kysely<any>) {
      await sql`alter table audit_event rename to audit_event_v1`.execute(db);
      await sql`alter index audit_event_aggregate rename to audit_event_v1_aggregate`.execute(db);
      await sql`
        create table audit_link (
          position bigint primary key,
          event_id uuid not null unique,
          tenant_id text,
          previous_hash text not null,
          digest text not null,
          hash text not null
        )`.execute(db);
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
          actor_kind text not null,
          actor_id text,
          payload text not null,
          occurred_at timestamptz not null,
          recorded_at timestamptz not null,
          unique (source, aggregate_type, aggregate_id, sequence)
        )`.execute(db);
      // One index per filter of auditEvents, each ending in position for its order and cursor.
      await sql`create index audit_event_tenant on audit_event (tenant_id, position)`.execute(db);
      await sql`create index audit_event_entity on audit_event (aggregate_type, aggregate_id, sequence)`.execute(
        db,
      );
      await sql`create index audit_event_actor on audit_event (actor_id, position)`.execute(db);
      await sql`create index audit_event_type on audit_event (event_type, position)`.execute(db);
      await sql`create index audit_event_occurred on audit_event (occurred_at, position)`.execute(db);
      // A tenant's auditors always filter on their tenant: its combinations get their own.
      await sql`create index audit_event_tenant_actor on audit_event (tenant_id, actor_kind, position)`.execute(
        db,
      );
      await sql`create index audit_event_tenant_type on audit_event (tenant_id, event_type, position)`.execute(
        db,
      );
      await sql`create index audit_event_tenant_entity on audit_event (tenant_id, aggregate_type, position)`.execute(
        db,
      );
      await sql`create index audit_event_tenant_occurred on audit_event (tenant_id, occurred_at, position)`.execute(
        db,
      );
      await sql`create index audit_event_recorded on audit_event (tenant_id, recorded_at)`.execute(db);
      await sql`
        create table audit_checkpoint (
          position bigint primary key,
          hash text not null,
          created_at text not null,
          previous_signature text,
          key_id text not null,
          signature text not null
        )`.execute(db);
      await sql`
        create table audit_seal (
          id uuid primary key,
          tenant_id text,
          recorded_before timestamptz not null,
          from_position bigint not null,
          to_position bigint not null,
          events integer not null,
          export_file text not null,
          export_sha256 text not null,
          checkpoint_position bigint not null,
          created_at timestamptz not null default now()
        )`.execute(db);
      await sql`
        create table audit_retention (
          tenant_id text primary key,
          days integer not null check (days between 1 and 36500),
          updated_at timestamptz not null default now()
        )`.execute(db);

      await sql`
        create function audit_refuse_change() returns trigger language plpgsql as $$
        begin
          raise exception 'the audit log is append-only: % on % is refused', tg_op, tg_table_name
            using errcode = 'insufficient_privilege';
        end $$`.execute(db);
      await sql`
        create function audit_refuse_unsealed_delete() returns trigger language plpgsql as $$
        begin
          if not exists (
            select 1 from audit_seal s
            where s.tenant_id is not distinct from old.tenant_id
              and old.position between s.from_position and s.to_position
              and old.recorded_at < s.recorded_before
          ) then
            raise exception 'the audit log is append-only: event % is not covered by a retention seal', old.position
              using errcode = 'insufficient_privilege';
          end if;
          return old;
        end $$`.execute(db);
      for (const table of ['audit_link', 'audit_checkpoint', 'audit_seal']) {
        await sql`
          create trigger ${sql.raw(`${table}_append_only`)} before update or delete on ${sql.table(table)}
          for each row execute function audit_refuse_change()`.execute(db);
      }
      await sql`
        create trigger audit_event_no_update before update on audit_event
        for each row execute function audit_refuse_change()`.execute(db);
      await sql`
        create trigger audit_event_sealed_delete before delete on audit_event
        for each row execute function audit_refuse_unsealed_delete()`.execute(db);
      for (const table of ['audit_link', 'audit_event', 'audit_checkpoint', 'audit_seal']) {
        await sql`
          create trigger ${sql.raw(`${table}_no_truncate`)} before truncate on ${sql.table(table)}
          for each statement execute function audit_refuse_change()`.execute(db);
      }
      // The service's role keeps SELECT and INSERT. (No foreign keys between these tables: their
      // checks lock the referenced row, which needs the UPDATE privilege; verification checks
      // that every event sits at its link instead.) (A superuser, such as PGlite's only user,
      // bypasses privileges; the triggers above still hold for it.)
      await sql`revoke update, delete, truncate on audit_link, audit_checkpoint, audit_seal from public, current_user`.execute(
        db,
      );
      await sql`revoke update, truncate on audit_event from public, current_user`.execute(db);

      await rechainVersion1Log(db);
      await sql`drop table audit_event_v1`.execute(db);
    },
  },

  /**
   * An actor acts in one tenant, but the planner takes the two columns as independent: for a
   * tenant's auditor filtering on an actor it expected a handful of rows and read every event of
   * the actor through both indexes, then sorted them (4 to 20 ms at 900 events, more for a busier
   * actor, measured over a million events), instead of walking the actor's index from the newest
   * event. Dependency statistics (gathered by ANALYZE, as autovacuum runs it) tell it.
   */
  '0003-actor-tenant-statistics': {
    async up(db: Kysely<any>) {
      await sql`create statistics audit_event_actor_tenant (dependencies) on actor_id, tenant_id from audit_event`.execute(
        db,
      );
    },
  },

  /**
   * Every appended event writes an entry in each index of audit_event, and ingest is bound by
   * them: two duplicated others. An event id is already unique in audit_link, whose row is
   * written in the same append (and no query looks a body up by its id); and the uniqueness of a
   * place in an entity's history, keyed by its entity first, serves the entity's history as the
   * entity index did. Measured over a million events: an append of 100 events 16 % shorter, of
   * 1,000 events 25 %.
   */
  '0004-fewer-indexes-to-write': {
    async up(db: Kysely<any>) {
      const { rows } = await sql<{ name: string; definition: string }>`
        select conname as name, pg_get_constraintdef(oid) as definition from pg_constraint
        where conrelid = 'audit_event'::regclass and contype = 'u'`.execute(db);
      const duplicated = ['UNIQUE (id)', 'UNIQUE (source, aggregate_type, aggregate_id, sequence)'];
      for (const { name, definition } of rows) {
        if (duplicated.includes(definition))
          await sql`alter table audit_event drop constraint ${sql.id(name)}`.execute(db);
      }
      await sql`drop index audit_event_entity`.execute(db);
      await sql`
        create unique index audit_event_entity
        on audit_event (aggregate_type, aggregate_id, sequence, source)`.execute(db);
    },
  },
};
