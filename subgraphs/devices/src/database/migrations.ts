import { sql, type Kysely, type Migration } from 'kysely';
import { OUTBOX_MIGRATION_NAME, outboxMigration } from '@fleet/outbox';

/* eslint-disable @typescript-eslint/no-explicit-any -- migrations are untyped by design */
export const migrations: Record<string, Migration> = {
  [OUTBOX_MIGRATION_NAME]: outboxMigration,
  '0001-device-registry': {
    async up(db: Kysely<any>) {
      await sql`
        create table device (
          id uuid primary key,
          tenant_id uuid not null,
          name text not null,
          host text not null,
          port integer not null check (port between 1 and 65535),
          created_at timestamptz not null default now(),
          unique (tenant_id, name)
        )`.execute(db);
    },
  },
};
