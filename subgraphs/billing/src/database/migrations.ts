import { sql, type Kysely, type Migration } from 'kysely';
import { OUTBOX_MIGRATION_NAME, outboxMigration } from '@fleet/outbox';

/* eslint-disable @typescript-eslint/no-explicit-any -- migrations are untyped by design */
export const migrations: Record<string, Migration> = {
  [OUTBOX_MIGRATION_NAME]: outboxMigration,
  '0001-plans': {
    async up(db: Kysely<any>) {
      await sql`
        create table plan (
          id text primary key,
          name text not null,
          device_quota integer not null check (device_quota >= 0),
          price_minor bigint not null check (price_minor >= 0),
          currency char(3) not null
        )`.execute(db);
      await sql`
        insert into plan (id, name, device_quota, price_minor, currency) values
          ('free', 'Free', 3, 0, 'EUR'),
          ('pro', 'Pro', 100, 4900, 'EUR'),
          ('enterprise', 'Enterprise', 10000, 99900, 'EUR')`.execute(db);
      await sql`
        create table tenant_plan (
          tenant_id uuid primary key,
          plan_id text not null references plan (id),
          changed_at timestamptz not null default now()
        )`.execute(db);
    },
  },
};
