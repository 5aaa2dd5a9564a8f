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
  '0002-enrolled-devices': {
    async up(db: Kysely<any>) {
      // Devices made before enrollment have no credentials and no TLS settings (null): they
      // stay listed, and cannot be reached until they are enrolled again.
      await sql`
        alter table device
          add column site text,
          add column tags text[] not null default '{}',
          add column tls_mode text check (tls_mode in ('verify', 'pinned', 'anonymous-dh')),
          add column tls_ca text,
          add column tls_fingerprint text,
          add column credentials bytea,
          add column credentials_key_version integer,
          add column identity text not null default '',
          add column router_version text not null default '',
          add column board text not null default '',
          add column updated_at timestamptz not null default now()`.execute(db);
      await sql`create index device_tenant_site on device (tenant_id, site)`.execute(db);
      await sql`
        create table tenant_key (
          tenant_id uuid not null,
          version integer not null,
          wrapped bytea not null,
          key_ref text not null,
          created_at timestamptz not null default now(),
          primary key (tenant_id, version)
        )`.execute(db);
      // One row per tenant with devices: creating a device locks it, so that concurrent
      // creations see each other's count and the quota holds.
      await sql`
        create table tenant_devices (
          tenant_id uuid primary key,
          device_count integer not null check (device_count >= 0)
        )`.execute(db);
      await sql`
        insert into tenant_devices (tenant_id, device_count)
        select tenant_id, count(*) from device group by tenant_id`.execute(db);
    },
  },
  '0003-enrollments': {
    async up(db: Kysely<any>) {
      await sql`
        create table enrollment (
          id uuid primary key,
          tenant_id uuid not null,
          name text not null,
          site text,
          tags text[] not null default '{}',
          port integer not null check (port between 1 and 65535),
          credentials bytea not null,
          credentials_key_version integer not null,
          token_digest bytea not null unique,
          expires_at timestamptz not null,
          actor_kind text not null,
          actor_id text,
          claimed_at timestamptz,
          device_id uuid,
          created_at timestamptz not null default now()
        )`.execute(db);
      await sql`create index enrollment_tenant on enrollment (tenant_id, created_at)`.execute(db);
    },
  },
  '0004-templates': {
    async up(db: Kysely<any>) {
      await sql`
        create table template (
          id uuid primary key,
          tenant_id uuid not null,
          name text not null,
          created_at timestamptz not null default now(),
          unique (tenant_id, name)
        )`.execute(db);
      // A template changes only by a new version: what a device was provisioned with stays known.
      await sql`
        create table template_version (
          template_id uuid not null references template (id) on delete cascade,
          version integer not null check (version >= 1),
          spec jsonb not null,
          variables jsonb not null,
          actor_kind text not null,
          actor_id text,
          created_at timestamptz not null default now(),
          primary key (template_id, version)
        )`.execute(db);
    },
  },
  '0005-provisioning-jobs': {
    async up(db: Kysely<any>) {
      await sql`
        create table provisioning_job (
          id uuid primary key,
          tenant_id uuid not null,
          device_id uuid not null,
          template_id uuid not null,
          template_version integer not null,
          variables jsonb not null,
          status text not null check (status in ('queued', 'running', 'waiting', 'succeeded', 'failed', 'canceled')),
          attempts integer not null default 0,
          next_attempt_at timestamptz not null default now(),
          -- A worker holds a job while its lease runs; a lease that ran out (a worker that died)
          -- frees the job for another.
          lease_owner text,
          lease_until timestamptz,
          cancel_requested boolean not null default false,
          summary jsonb,
          error text,
          actor_kind text not null,
          actor_id text,
          created_at timestamptz not null default now(),
          started_at timestamptz,
          finished_at timestamptz
        )`.execute(db);
      await sql`create index provisioning_job_ready on provisioning_job (status, next_attempt_at)`.execute(
        db,
      );
      await sql`create index provisioning_job_device on provisioning_job (device_id, created_at)`.execute(db);
      // One running job per device, whatever the number of workers: the per-device lock.
      await sql`
        create unique index provisioning_job_one_running on provisioning_job (device_id)
        where status = 'running'`.execute(db);
      await sql`
        create table job_fault (
          id bigserial primary key,
          job_id uuid not null references provisioning_job (id) on delete cascade,
          device_id uuid not null,
          attempt integer not null,
          message text not null,
          changes_done jsonb not null,
          occurred_at timestamptz not null default now()
        )`.execute(db);
    },
  },
  '0006-backups-and-drift': {
    async up(db: Kysely<any>) {
      // A snapshot's content is stored once per tenant and digest: unchanged routers share it.
      await sql`
        create table backup_content (
          tenant_id uuid not null,
          digest text not null,
          content text not null,
          created_at timestamptz not null default now(),
          primary key (tenant_id, digest)
        )`.execute(db);
      // The foreign key to the content keeps a snapshot from ever pointing at content a
      // concurrent clean-up deleted; removing the device removes its snapshots.
      await sql`
        create table device_backup (
          id uuid primary key,
          tenant_id uuid not null,
          device_id uuid not null references device (id) on delete cascade,
          digest text not null,
          reason text not null check (reason in ('after-apply', 'scheduled', 'manual')),
          job_id uuid,
          taken_at timestamptz not null default now(),
          foreign key (tenant_id, digest) references backup_content (tenant_id, digest)
        )`.execute(db);
      await sql`create index device_backup_device on device_backup (device_id, taken_at)`.execute(db);
      await sql`create index device_backup_content on device_backup (tenant_id, digest)`.execute(db);
      // When the scheduled backup of a device is due; null: one interval after it was created.
      await sql`alter table device add column next_backup_at timestamptz`.execute(db);
      // A device's desired state (its last succeeded job) and what the last drift check found. A
      // device without a row was never provisioned: its drift is unknown.
      await sql`
        create table device_drift (
          device_id uuid primary key references device (id) on delete cascade,
          tenant_id uuid not null,
          job_id uuid not null,
          template_id uuid not null,
          template_version integer not null,
          status text not null check (status in ('in-sync', 'drifted')),
          changes jsonb not null default '[]',
          checked_at timestamptz not null default now(),
          detected_at timestamptz,
          next_check_at timestamptz not null default now()
        )`.execute(db);
      await sql`create index device_drift_due on device_drift (next_check_at)`.execute(db);
      // Devices provisioned before: their last succeeded job is their desired state, in sync then.
      await sql`
        insert into device_drift (device_id, tenant_id, job_id, template_id, template_version, status, checked_at)
        select distinct on (j.device_id) j.device_id, j.tenant_id, j.id, j.template_id, j.template_version,
               'in-sync', j.finished_at
        from provisioning_job j join device d on d.id = j.device_id
        where j.status = 'succeeded'
        order by j.device_id, j.finished_at desc`.execute(db);
    },
  },
  '0007-rollouts': {
    async up(db: Kysely<any>) {
      // A staged rollout of a template version over the devices a site and/or tag selected when
      // it was asked for: the policy, and how far it got. Its jobs are ordinary provisioning jobs.
      await sql`
        create table rollout (
          id uuid primary key,
          tenant_id uuid not null,
          template_id uuid not null,
          template_version integer not null,
          site text,
          tag text,
          canary_size integer not null check (canary_size >= 1),
          batch_size integer not null check (batch_size >= 1),
          -- The failure threshold: a count or a percentage, exactly one.
          max_failures integer check (max_failures >= 0),
          max_failure_percent integer check (max_failure_percent between 0 and 100),
          stage_timeout_seconds integer not null check (stage_timeout_seconds >= 1),
          device_count integer not null check (device_count >= 1),
          stage_count integer not null check (stage_count >= 1),
          status text not null check (status in ('running', 'halted', 'succeeded', 'completed-with-failures', 'canceled')),
          current_stage integer not null check (current_stage between 1 and stage_count),
          stage_deadline timestamptz not null,
          reason text,
          actor_kind text not null,
          actor_id text,
          created_at timestamptz not null default now(),
          updated_at timestamptz not null default now(),
          finished_at timestamptz,
          check ((max_failures is null) <> (max_failure_percent is null))
        )`.execute(db);
      await sql`create index rollout_tenant on rollout (tenant_id, created_at)`.execute(db);
      await sql`create index rollout_running on rollout (updated_at) where status = 'running'`.execute(db);
      // The devices of a rollout, in their order (by name), each with its stage and its values.
      await sql`
        create table rollout_target (
          rollout_id uuid not null references rollout (id) on delete cascade,
          position integer not null,
          device_id uuid not null,
          stage integer not null check (stage >= 1),
          variables jsonb not null,
          primary key (rollout_id, position),
          unique (rollout_id, device_id)
        )`.execute(db);
      await sql`
        alter table provisioning_job
          add column rollout_id uuid references rollout (id),
          add column rollout_stage integer`.execute(db);
      // A device gets one job of a rollout, however often a stage is looked at, by however many
      // processes.
      await sql`
        create unique index provisioning_job_rollout on provisioning_job (rollout_id, device_id)
        where rollout_id is not null`.execute(db);
    },
  },
  '0008-device-status': {
    async up(db: Kysely<any>) {
      // The last status of each device, written by whichever process polls it, read by all.
      await sql`
        create table device_status (
          device_id uuid primary key references device (id) on delete cascade,
          tenant_id uuid not null,
          state text not null check (state in ('unknown', 'online', 'offline')),
          since timestamptz,
          checked_at timestamptz,
          last_seen_at timestamptz,
          error text,
          cpu_load integer,
          free_memory double precision,
          total_memory double precision,
          uptime_seconds double precision,
          interfaces jsonb not null default '[]'
        )`.execute(db);
    },
  },
  '0009-tenant-entitlements': {
    async up(db: Kysely<any>) {
      // What billing last told of the tenant's plan: its device quota (null while devices knows
      // nothing of it) and the version of that word, so that an older one arriving late is
      // ignored. Kept on the row device creation locks, so that both serialize.
      await sql`
        alter table tenant_devices
          add column device_quota integer check (device_quota >= 0),
          add column entitlement_version bigint not null default 0`.execute(db);
    },
  },
};
