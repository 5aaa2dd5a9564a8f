import type { ColumnType, Generated } from 'kysely';
import type { OutboxTables } from '@fleet/outbox';
import type { LoginThrottleTables } from '../brute-force/login-throttle-schema.js';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;

export type TenantKind = 'customer' | 'platform';
export type UserStatus = 'invited' | 'active' | 'disabled' | 'erased';

export interface AaaDatabase extends OutboxTables, LoginThrottleTables {
  tenant: {
    id: string;
    name: string;
    slug: string;
    kind: Generated<TenantKind>;
    mfa_required: Generated<boolean>;
    created_at: Generated<Date>;
  };
  tenant_key: {
    tenant_id: string;
    version: number;
    wrapped: Buffer;
    key_ref: string;
    created_at: Generated<Date>;
    rewrapped_at: Date | null;
  };
  app_user: {
    id: string;
    tenant_id: string;
    status: UserStatus;
    key_version: number | null;
    email_bidx: Buffer | null;
    email_sealed: Buffer | null;
    full_name_sealed: Buffer | null;
    phone_sealed: Buffer | null;
    password_hash: string | null;
    activation_digest: string | null;
    activation_expires_at: Date | null;
    totp_secret_sealed: Buffer | null;
    totp_pending_sealed: Buffer | null;
    totp_last_step: number | null;
    mfa_enrolled_at: Date | null;
    erased_at: Date | null;
    created_at: Generated<Date>;
  };
  user_key: {
    user_id: string;
    version: number;
    tenant_key_version: number;
    wrapped: Buffer;
    created_at: Generated<Date>;
  };
  membership: {
    tenant_id: string;
    user_id: string;
    roles: string[];
    created_at: Generated<Date>;
  };
  recovery_code: {
    user_id: string;
    digest: string;
    used_at: Date | null;
  };
  session: {
    id: string;
    user_id: string;
    tenant_id: string;
    restricted_to: string[] | null;
    generation: Generated<number>;
    created_at: Generated<Date>;
    refreshed_at: Timestamp;
    expires_at: Date;
    revoked_at: Date | null;
    revoke_reason: string | null;
  };
  refresh_token: {
    digest: string;
    session_id: string;
    generation: number;
    created_at: Generated<Date>;
    used_at: Date | null;
  };
  api_key: {
    id: string;
    tenant_id: string;
    name: string;
    digest: string;
    prefix: string;
    last_four: string;
    scopes: string[];
    document_hashes: string[] | null;
    created_by: string;
    created_at: Generated<Date>;
    expires_at: Date;
    revoked_at: Date | null;
    last_used_at: Date | null;
  };
}
