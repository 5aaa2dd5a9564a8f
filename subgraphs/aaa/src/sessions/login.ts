import { setTimeout as sleep } from 'node:timers/promises';
import type { Kysely, Selectable } from 'kysely';
import { outboxTablesOf, recordEvent } from '@fleet/outbox';
import {
  BadUserInputError,
  MfaRequiredError,
  TooManyAttemptsError,
  UnauthenticatedError,
} from '@fleet/service-kit';
import { MFA_ENROLL_SCOPE } from '../access/roles.js';
import type { LoginThrottle } from '../brute-force/login-throttle.js';
import type { SecretDigests } from '../credentials/secret-digests.js';
import type { AaaDatabase } from '../database/schema.js';
import { matchRecoveryCode } from '../mfa/recovery-codes.js';
import { verifyTotp } from '../mfa/totp.js';
import type { PasswordHasher } from '../passwords/password-hasher.js';
import type { TenantDirectory } from '../tenants/tenant-directory.js';
import type { PiiVault } from '../vault/pii-vault.js';
import { userFieldRef } from '../members/user-fields.js';
import type { SessionStore, TokenPair } from './session-store.js';

export interface LoginInput {
  tenant: string;
  email: string;
  password: string;
  totp?: string | null;
  recoveryCode?: string | null;
}

type UserRow = Selectable<AaaDatabase['app_user']>;

const INVALID_CREDENTIALS = 'Invalid email or password';

/**
 * Password login, with a second factor when the user has one.
 *
 * Every attempt first reserves a slot in the brute-force counters (per account and per client
 * address), atomically, so parallel guesses cannot exceed the limit. An unknown email costs one
 * password verification like a known one and gets the same answer. Every outcome is accounted
 * for in the outbox, with ids only.
 */
export class Login {
  readonly #db: Kysely<AaaDatabase>;

  constructor(
    db: Kysely<AaaDatabase>,
    private readonly parts: {
      tenants: TenantDirectory;
      vault: PiiVault;
      hasher: PasswordHasher;
      throttle: LoginThrottle;
      digests: SecretDigests;
      sessions: SessionStore;
      onEvent: () => void;
    },
  ) {
    this.#db = db;
  }

  async login(input: LoginInput, clientAddress: string): Promise<TokenPair> {
    checkShape(input);
    const { tenants, vault, hasher, throttle, digests, sessions } = this.parts;
    const tenant = await tenants.getTenantBySlug(input.tenant);
    if (!tenant) throw new BadUserInputError('Unknown tenant', 'tenant');

    const emailIndex = await vault.emailIndex(tenant.id, input.email);
    const account = digests.throttleKey('account', `${tenant.id}:${emailIndex.toString('hex')}`);
    const address = digests.throttleKey('address', clientAddress || 'unknown');
    const slot = await throttle.reserve({ account, address });
    if (!slot.allowed) {
      await this.#account('login.locked', tenant.id, null, { reason: 'too-many-attempts' });
      throw new TooManyAttemptsError(slot.retryAfterMs);
    }
    if (slot.delayMs > 0) await sleep(slot.delayMs);

    const user = await this.#db
      .selectFrom('app_user')
      .selectAll()
      .where('tenant_id', '=', tenant.id)
      .where('email_bidx', '=', emailIndex)
      .where('status', '=', 'active')
      .executeTakeFirst();
    const verified = user?.password_hash
      ? await hasher.verify(user.password_hash, input.password)
      : { ok: await hasher.verifyAgainstNothing(input.password), needsRehash: false };
    if (!user || !verified.ok) {
      await this.#account('login.failed', tenant.id, user?.id ?? null, { reason: 'bad-credentials' });
      throw new UnauthenticatedError(INVALID_CREDENTIALS);
    }

    const secondFactor = await this.#secondFactor(user, input);
    await throttle.succeeded({ account, address });
    if (verified.needsRehash) {
      const rehashed = await hasher.hash(input.password);
      await this.#db
        .updateTable('app_user')
        .set({ password_hash: rehashed })
        .where('id', '=', user.id)
        .execute();
    }
    const restrictedTo = tenant.mfa_required && !user.mfa_enrolled_at ? [MFA_ENROLL_SCOPE] : null;
    const opened = await this.#db.transaction().execute(async (trx) => {
      const result = await sessions.open(trx, { userId: user.id, tenantId: tenant.id, restrictedTo });
      await recordEvent(outboxTablesOf(trx), {
        aggregateType: 'user',
        aggregateId: user.id,
        type: 'login.succeeded',
        tenantId: tenant.id,
        actor: { kind: 'user', id: user.id },
        payload: {
          userId: user.id,
          sessionId: result.session.id,
          secondFactor,
          restricted: restrictedTo !== null,
        },
      });
      return result;
    });
    this.parts.onEvent();
    return sessions.tokensFor(opened.session, opened.refreshToken);
  }

  /** Checks the second factor, when the user has one; returns which one was used. */
  async #secondFactor(user: UserRow, input: LoginInput): Promise<'none' | 'totp' | 'recovery-code'> {
    if (!user.mfa_enrolled_at || !user.totp_secret_sealed || user.key_version === null) return 'none';
    const totp = input.totp?.trim();
    const recovery = input.recoveryCode?.trim();
    if (!totp && !recovery) {
      await this.#account('mfa.required', user.tenant_id, user.id, {});
      throw new MfaRequiredError();
    }
    if (totp) {
      const key = await this.parts.vault.userKey(user.tenant_id, user.id, user.key_version);
      if (!key) throw new UnauthenticatedError(INVALID_CREDENTIALS);
      const secret = this.parts.vault.open(
        key,
        userFieldRef(user, 'totp_secret_sealed'),
        user.totp_secret_sealed,
      );
      const checked = verifyTotp(secret, totp, { lastUsedStep: user.totp_last_step });
      // The step is claimed atomically: one code, one login, even under parallel attempts.
      const claimed =
        checked.ok &&
        (
          await this.#db
            .updateTable('app_user')
            .set({ totp_last_step: checked.step })
            .where('id', '=', user.id)
            .where((eb) => eb.or([eb('totp_last_step', 'is', null), eb('totp_last_step', '<', checked.step)]))
            .executeTakeFirst()
        ).numUpdatedRows === 1n;
      if (!claimed) {
        await this.#account('mfa.failed', user.tenant_id, user.id, { factor: 'totp' });
        throw new UnauthenticatedError('Invalid verification code');
      }
      await this.#account('mfa.verified', user.tenant_id, user.id, { factor: 'totp' });
      return 'totp';
    }
    const codes = await this.#db
      .selectFrom('recovery_code')
      .select('digest')
      .where('user_id', '=', user.id)
      .where('used_at', 'is', null)
      .execute();
    const digests = codes.map((code) => code.digest);
    const index = matchRecoveryCode(this.parts.digests.recoveryCodeKey, recovery ?? '', digests);
    const used =
      index >= 0 &&
      (
        await this.#db
          .updateTable('recovery_code')
          .set({ used_at: new Date() })
          .where('user_id', '=', user.id)
          .where('digest', '=', digests[index]!)
          .where('used_at', 'is', null)
          .executeTakeFirst()
      ).numUpdatedRows === 1n;
    if (!used) {
      await this.#account('mfa.failed', user.tenant_id, user.id, { factor: 'recovery-code' });
      throw new UnauthenticatedError('Invalid verification code');
    }
    await this.#account('mfa.recovery_code_used', user.tenant_id, user.id, { remaining: digests.length - 1 });
    return 'recovery-code';
  }

  /** Records an accounting event on its own: the login it belongs to changes nothing else. */
  async #account(
    type: string,
    tenantId: string,
    userId: string | null,
    payload: Record<string, unknown>,
  ): Promise<void> {
    await this.#db.transaction().execute(async (trx) => {
      await recordEvent(outboxTablesOf(trx), {
        aggregateType: userId ? 'user' : 'tenant',
        aggregateId: userId ?? tenantId,
        type,
        tenantId,
        actor: userId ? { kind: 'user', id: userId } : { kind: 'anonymous', id: null },
        payload: { ...(userId ? { userId } : {}), ...payload },
      });
    });
    this.parts.onEvent();
  }
}

/** Sizes are checked before any work: nothing oversized reaches the hasher or the database. */
function checkShape(input: LoginInput): void {
  if (input.tenant.length < 1 || input.tenant.length > 48)
    throw new BadUserInputError('Unknown tenant', 'tenant');
  if (input.email.length < 3 || input.email.length > 254) {
    throw new BadUserInputError('email must be an email address', 'email');
  }
  if (input.password.length < 1 || Buffer.byteLength(input.password) > 1024) {
    throw new BadUserInputError('password must be 1 to 1024 bytes', 'password');
  }
  if (input.totp && input.totp.length > 16)
    throw new BadUserInputError('totp must be a 6-digit code', 'totp');
  if (input.recoveryCode && input.recoveryCode.length > 64) {
    throw new BadUserInputError('recoveryCode is not a recovery code', 'recoveryCode');
  }
}
