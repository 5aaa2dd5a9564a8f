import type { FieldRef } from '../vault/pii-vault.js';

/** The sealed columns of app_user. */
export type SealedUserColumn =
  'email_sealed' | 'full_name_sealed' | 'phone_sealed' | 'totp_secret_sealed' | 'totp_pending_sealed';

/** Where a sealed column of a user lives, for the field's authenticated data. */
export function userFieldRef(
  user: { id: string; tenant_id: string; key_version: number | null },
  column: SealedUserColumn,
): FieldRef {
  return {
    tenantId: user.tenant_id,
    userId: user.id,
    table: 'app_user',
    column,
    rowId: user.id,
    keyVersion: user.key_version ?? 0,
  };
}
