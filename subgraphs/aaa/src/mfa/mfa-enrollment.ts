import type { Kysely } from 'kysely';
import { outboxTablesOf, recordEvent } from '@fleet/outbox';
import { BadUserInputError, ConflictError, NotFoundError, UnauthenticatedError } from '@fleet/service-kit';
import type { SecretDigests } from '../credentials/secret-digests.js';
import type { AaaDatabase } from '../database/schema.js';
import type { MemberDirectory } from '../members/member-directory.js';
import { userFieldRef } from '../members/user-fields.js';
import type { PasswordHasher } from '../passwords/password-hasher.js';
import type { PiiVault } from '../vault/pii-vault.js';
import { generateRecoveryCodes, recoveryCodeDigest } from './recovery-codes.js';
import { generateTotpSecret, totpUri, verifyTotp } from './totp.js';

/**
 * Enrolling a TOTP second factor: the secret is sealed in the vault as pending until the user
 * proves they hold it with a first code; then it becomes active and ten single-use recovery
 * codes are handed out, stored as digests only.
 */
export class MfaEnrollment {
  readonly #db: Kysely<AaaDatabase>;

  constructor(
    db: Kysely<AaaDatabase>,
    private readonly parts: {
      vault: PiiVault;
      members: MemberDirectory;
      hasher: PasswordHasher;
      digests: SecretDigests;
      onEvent: () => void;
    },
  ) {
    this.#db = db;
  }

  async begin(userId: string): Promise<{ secret: string; uri: string }> {
    const { user, key } = await this.#userWithKey(userId);
    if (user.mfa_enrolled_at) throw new ConflictError('A second factor is already enrolled');
    const profile = await this.parts.members.profileOf(user);
    const secret = generateTotpSecret();
    await this.#db
      .updateTable('app_user')
      .set({
        totp_pending_sealed: this.parts.vault.seal(key, userFieldRef(user, 'totp_pending_sealed'), secret),
      })
      .where('id', '=', user.id)
      .execute();
    return { secret, uri: totpUri(secret, { issuer: 'Fleet', account: profile?.email ?? user.id }) };
  }

  async confirm(userId: string, code: string): Promise<string[]> {
    if (code.length > 16) throw new BadUserInputError('code must be a 6-digit code', 'code');
    const { user, key } = await this.#userWithKey(userId);
    if (user.mfa_enrolled_at) throw new ConflictError('A second factor is already enrolled');
    if (!user.totp_pending_sealed) throw new ConflictError('Begin the enrolment first');
    const pending = this.parts.vault.open(
      key,
      userFieldRef(user, 'totp_pending_sealed'),
      user.totp_pending_sealed,
    );
    const checked = verifyTotp(pending, code, { lastUsedStep: null });
    if (!checked.ok) throw new BadUserInputError('Invalid verification code', 'code');
    const codes = generateRecoveryCodes();
    await this.#db.transaction().execute(async (trx) => {
      const updated = await trx
        .updateTable('app_user')
        .set({
          totp_secret_sealed: this.parts.vault.seal(key, userFieldRef(user, 'totp_secret_sealed'), pending),
          totp_pending_sealed: null,
          totp_last_step: checked.step,
          mfa_enrolled_at: new Date(),
        })
        .where('id', '=', user.id)
        .where('mfa_enrolled_at', 'is', null)
        .executeTakeFirst();
      if (updated.numUpdatedRows !== 1n) throw new ConflictError('A second factor is already enrolled');
      await trx.deleteFrom('recovery_code').where('user_id', '=', user.id).execute();
      await trx
        .insertInto('recovery_code')
        .values(
          codes.map((c) => ({
            user_id: user.id,
            digest: recoveryCodeDigest(this.parts.digests.recoveryCodeKey, c),
            used_at: null,
          })),
        )
        .execute();
      await recordEvent(outboxTablesOf(trx), {
        aggregateType: 'user',
        aggregateId: user.id,
        type: 'mfa.enrolled',
        tenantId: user.tenant_id,
        actor: { kind: 'user', id: user.id },
        payload: { userId: user.id, factor: 'totp', recoveryCodes: codes.length },
      });
    });
    this.parts.onEvent();
    return codes;
  }

  /** Removes the caller's second factor, after checking their password. */
  async disable(userId: string, password: string, tenantRequiresMfa: boolean): Promise<void> {
    if (tenantRequiresMfa) throw new ConflictError('The tenant requires a second factor');
    if (Buffer.byteLength(password) > 1024) throw new BadUserInputError('password is too long', 'password');
    const user = await this.parts.members.getUser(userId);
    if (!user?.password_hash) throw new NotFoundError('User');
    const verified = await this.parts.hasher.verify(user.password_hash, password);
    if (!verified.ok) throw new UnauthenticatedError('The password is wrong');
    await this.#db.transaction().execute(async (trx) => {
      await trx
        .updateTable('app_user')
        .set({
          totp_secret_sealed: null,
          totp_pending_sealed: null,
          totp_last_step: null,
          mfa_enrolled_at: null,
        })
        .where('id', '=', user.id)
        .execute();
      await trx.deleteFrom('recovery_code').where('user_id', '=', user.id).execute();
      await recordEvent(outboxTablesOf(trx), {
        aggregateType: 'user',
        aggregateId: user.id,
        type: 'mfa.disabled',
        tenantId: user.tenant_id,
        actor: { kind: 'user', id: user.id },
        payload: { userId: user.id },
      });
    });
    this.parts.onEvent();
  }

  async #userWithKey(userId: string) {
    const user = await this.parts.members.getUser(userId);
    if (!user || user.status !== 'active' || user.key_version === null) throw new NotFoundError('User');
    const key = await this.parts.vault.userKey(user.tenant_id, user.id, user.key_version);
    if (!key) throw new NotFoundError('User');
    return { user, key };
  }
}
