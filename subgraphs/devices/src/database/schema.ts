import type { Generated } from 'kysely';
import type { OutboxTables } from '@fleet/outbox';

export type TlsMode = 'verify' | 'pinned' | 'anonymous-dh';

export type JobStatus = 'queued' | 'running' | 'waiting' | 'succeeded' | 'failed' | 'canceled';

export type RolloutStatus = 'running' | 'halted' | 'succeeded' | 'completed-with-failures' | 'canceled';
export type BackupReason = 'after-apply' | 'scheduled' | 'manual';

export type DriftStatus = 'in-sync' | 'drifted';

export interface DevicesDatabase extends OutboxTables {
  device: {
    id: string;
    tenant_id: string;
    name: string;
    host: string;
    port: number;
    site: string | null;
    tags: Generated<string[]>;
    /** Null for a device made before enrollment: it has no credentials either. */
    tls_mode: TlsMode | null;
    /** PEM of the CA the router's certificate must chain to (verify). */
    tls_ca: string | null;
    /** SHA-256 of the router's certificate, `AB:CD:…` (pinned). */
    tls_fingerprint: string | null;
    /** Username and password, sealed under the tenant's key (see credential-vault.ts). */
    credentials: Buffer | null;
    credentials_key_version: number | null;
    identity: Generated<string>;
    router_version: Generated<string>;
    board: Generated<string>;
    created_at: Generated<Date>;
    updated_at: Generated<Date>;
    /** When the scheduled backup is due; null: one backup interval after the device was created. */
    next_backup_at: Date | null;
  };
  tenant_key: {
    tenant_id: string;
    version: number;
    wrapped: Buffer;
    key_ref: string;
    created_at: Generated<Date>;
  };
  /** A pull enrollment: a token the router claims, with the credentials the script gives it. */
  enrollment: {
    id: string;
    tenant_id: string;
    name: string;
    site: string | null;
    tags: Generated<string[]>;
    port: number;
    /** The user the script creates on the router, sealed like a device's credentials. */
    credentials: Buffer;
    credentials_key_version: number;
    /** SHA-256 of the one-time token: the token itself is shown once and not kept. */
    token_digest: Buffer;
    expires_at: Date;
    actor_kind: string;
    actor_id: string | null;
    claimed_at: Date | null;
    device_id: string | null;
    created_at: Generated<Date>;
  };
  template: {
    id: string;
    tenant_id: string;
    name: string;
    created_at: Generated<Date>;
  };
  template_version: {
    template_id: string;
    version: number;
    spec: unknown;
    variables: unknown;
    actor_kind: string;
    actor_id: string | null;
    created_at: Generated<Date>;
  };
  provisioning_job: {
    id: string;
    tenant_id: string;
    device_id: string;
    template_id: string;
    template_version: number;
    variables: unknown;
    status: JobStatus;
    attempts: Generated<number>;
    next_attempt_at: Generated<Date>;
    lease_owner: string | null;
    lease_until: Date | null;
    cancel_requested: Generated<boolean>;
    /** Counts of the changes made, per menu and action. */
    summary: unknown;
    error: string | null;
    actor_kind: string;
    actor_id: string | null;
    created_at: Generated<Date>;
    started_at: Date | null;
    finished_at: Date | null;
    /** The rollout that queued the job, and in which of its stages; null for a job of its own. */
    rollout_id: Generated<string | null>;
    rollout_stage: Generated<number | null>;
  };
  rollout: {
    id: string;
    tenant_id: string;
    template_id: string;
    template_version: number;
    /** The selector the devices were taken by: a site, a tag, or both. */
    site: string | null;
    tag: string | null;
    canary_size: number;
    batch_size: number;
    /** The failure threshold: at most this many failures, or this percentage (one of the two). */
    max_failures: number | null;
    max_failure_percent: number | null;
    stage_timeout_seconds: number;
    device_count: number;
    stage_count: number;
    status: RolloutStatus;
    /** The stage queued last (1 is the canary). */
    current_stage: number;
    /** When the current stage's jobs still not running are canceled, and count as failures. */
    stage_deadline: Date;
    /** Why it halted or was canceled. */
    reason: string | null;
    actor_kind: string;
    actor_id: string | null;
    created_at: Generated<Date>;
    updated_at: Generated<Date>;
    finished_at: Date | null;
  };
  rollout_target: {
    rollout_id: string;
    /** The device's place in the rollout: by name, from 0. */
    position: number;
    device_id: string;
    stage: number;
    /** The device's values: the common ones with its own over them. */
    variables: unknown;
  };
  job_fault: {
    id: Generated<string>;
    job_id: string;
    device_id: string;
    attempt: number;
    /** The router's own words, or why it could not be reached. */
    message: string;
    /** The changes made before the fault: what the router now has of this attempt. */
    changes_done: unknown;
    occurred_at: Generated<Date>;
  };
  /** The last status of each polled device (see status/status-tracker.ts). */
  device_status: {
    device_id: string;
    tenant_id: string;
    state: 'unknown' | 'online' | 'offline';
    since: Date | null;
    checked_at: Date | null;
    last_seen_at: Date | null;
    error: string | null;
    cpu_load: number | null;
    free_memory: number | null;
    total_memory: number | null;
    uptime_seconds: number | null;
    interfaces: unknown;
  };
  /** A snapshot's normalized content, once per tenant and digest (see backups/snapshot.ts). */
  backup_content: {
    tenant_id: string;
    /** SHA-256 of the content, hex. */
    digest: string;
    /** The canonical serialization the digest is of. */
    content: string;
    created_at: Generated<Date>;
  };
  device_backup: {
    id: string;
    tenant_id: string;
    device_id: string;
    digest: string;
    reason: BackupReason;
    /** The job whose success this snapshot followed (after-apply). */
    job_id: string | null;
    taken_at: Generated<Date>;
  };
  /** A provisioned device's desired state (its last succeeded job) and its last drift check. */
  device_drift: {
    device_id: string;
    tenant_id: string;
    job_id: string;
    template_id: string;
    template_version: number;
    status: DriftStatus;
    /** The changes that would bring the router back to its desired state (drifted). */
    changes: Generated<unknown>;
    checked_at: Generated<Date>;
    /** When the device was found drifted; null while in sync. */
    detected_at: Date | null;
    next_check_at: Generated<Date>;
  };
  tenant_devices: {
    tenant_id: string;
    device_count: number;
    /** The quota of the tenant's plan, as billing last told it; null while unknown. */
    device_quota: Generated<number | null>;
    /** The version of billing's word on the plan: only a newer one replaces it. */
    entitlement_version: Generated<number>;
  };
}
