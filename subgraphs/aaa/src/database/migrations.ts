import { sql, type Kysely, type Migration } from 'kysely';
import { OUTBOX_MIGRATION_NAME, outboxMigration } from '@fleet/outbox';
import { loginThrottleMigration } from '../brute-force/login-throttle-schema.js';

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
  '0002-identities-and-vault': {
    async up(db: Kysely<any>) {
      // The platform's own tenant holds its operators; customers' tenants hold their members.
      await sql`alter table tenant add column kind text not null default 'customer'
        check (kind in ('customer', 'platform'))`.execute(db);
      await sql`alter table tenant add column mfa_required boolean not null default false`.execute(db);
      await sql`create unique index tenant_single_platform on tenant (kind) where kind = 'platform'`.execute(
        db,
      );

      // Tenant keys: data keys from the key provider, kept only wrapped. Deleting a tenant's
      // rows shreds everything encrypted under it.
      await sql`
        create table tenant_key (
          tenant_id uuid not null references tenant (id),
          version integer not null,
          wrapped bytea not null,
          key_ref text not null,
          created_at timestamptz not null default now(),
          rewrapped_at timestamptz,
          primary key (tenant_id, version)
        )`.execute(db);

      // Personal data lives only here, each field sealed under the user's own key.
      await sql`alter table app_user add column status text not null default 'active'
        check (status in ('invited', 'active', 'disabled', 'erased'))`.execute(db);
      await sql`alter table app_user add column key_version integer`.execute(db);
      await sql`alter table app_user add column email_bidx bytea`.execute(db);
      await sql`alter table app_user add column email_sealed bytea`.execute(db);
      await sql`alter table app_user add column full_name_sealed bytea`.execute(db);
      await sql`alter table app_user add column phone_sealed bytea`.execute(db);
      await sql`alter table app_user add column password_hash text`.execute(db);
      await sql`alter table app_user add column activation_digest text`.execute(db);
      await sql`alter table app_user add column activation_expires_at timestamptz`.execute(db);
      await sql`alter table app_user add column totp_secret_sealed bytea`.execute(db);
      await sql`alter table app_user add column totp_pending_sealed bytea`.execute(db);
      await sql`alter table app_user add column totp_last_step bigint`.execute(db);
      await sql`alter table app_user add column mfa_enrolled_at timestamptz`.execute(db);
      await sql`alter table app_user add column erased_at timestamptz`.execute(db);
      await sql`create unique index app_user_email on app_user (tenant_id, email_bidx)`.execute(db);

      await sql`
        create table user_key (
          user_id uuid not null references app_user (id),
          version integer not null,
          tenant_key_version integer not null,
          wrapped bytea not null,
          created_at timestamptz not null default now(),
          primary key (user_id, version)
        )`.execute(db);

      await sql`
        create table membership (
          tenant_id uuid not null references tenant (id),
          user_id uuid not null references app_user (id),
          roles text[] not null,
          created_at timestamptz not null default now(),
          primary key (tenant_id, user_id)
        )`.execute(db);
      await sql`create index membership_user on membership (user_id)`.execute(db);

      await sql`
        create table recovery_code (
          user_id uuid not null references app_user (id),
          digest text not null,
          used_at timestamptz,
          primary key (user_id, digest)
        )`.execute(db);

      // A session is one refresh-token family: every rotation stays inside it, and reuse of a
      // spent token revokes the whole family.
      await sql`
        create table session (
          id uuid primary key,
          user_id uuid not null references app_user (id),
          tenant_id uuid not null references tenant (id),
          restricted_to text[],
          generation integer not null default 0,
          created_at timestamptz not null default now(),
          refreshed_at timestamptz not null default now(),
          expires_at timestamptz not null,
          revoked_at timestamptz,
          revoke_reason text
        )`.execute(db);
      await sql`create index session_by_user on session (user_id) where revoked_at is null`.execute(db);
      await sql`create index session_by_revocation on session (revoked_at) where revoked_at is not null`.execute(
        db,
      );

      await sql`
        create table refresh_token (
          digest text primary key,
          session_id uuid not null references session (id),
          generation integer not null,
          created_at timestamptz not null default now(),
          used_at timestamptz
        )`.execute(db);
      await sql`create index refresh_token_session on refresh_token (session_id)`.execute(db);

      await sql`
        create table api_key (
          id uuid primary key,
          tenant_id uuid not null references tenant (id),
          name text not null,
          digest text not null unique,
          prefix text not null,
          last_four text not null,
          scopes text[] not null,
          created_by uuid not null,
          created_at timestamptz not null default now(),
          expires_at timestamptz not null,
          revoked_at timestamptz,
          last_used_at timestamptz
        )`.execute(db);
      await sql`create index api_key_tenant on api_key (tenant_id)`.execute(db);
      await sql`create index api_key_revoked on api_key (revoked_at) where revoked_at is not null`.execute(
        db,
      );
    },
  },
  '0003-login-throttle': loginThrottleMigration,
  '0004-api-key-trusted-documents': {
    async up(db: Kysely<any>) {
      // The operations (SHA-256 of their text) an API key may run; null means any.
      await sql`alter table api_key add column document_hashes text[]`.execute(db);
    },
  },
};
