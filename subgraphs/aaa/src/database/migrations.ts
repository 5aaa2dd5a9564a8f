import { sql, type Kysely, type Migration } from 'kysely';
import { OUTBOX_MIGRATION_NAME, outboxMigration } from '@fleet/outbox';

/* eslint-disable @typescript-eslint/no-explicit-any -- migrations are untyped by design */
export const migrations: Record<string, Migration> = {
  [OUTBOX_MIGRATION_NAME]: outboxMigration,
  '0001-tenants-and-users': {
    async up(db: Kysely<any>) {
      await sql`
        create table tenant (
          id uuid primary key,
          name text not null,
          slug text not null unique,
          created_at timestamptz not null default now()
        )`.execute(db);
      await sql`
        create table app_user (
          id uuid primary key,
          tenant_id uuid not null references tenant (id),
          created_at timestamptz not null default now()
        )`.execute(db);
      await sql`create index app_user_tenant on app_user (tenant_id)`.execute(db);
    },
  },
};
