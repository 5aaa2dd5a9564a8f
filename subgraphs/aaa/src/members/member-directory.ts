import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable, Transaction } from 'kysely';
import { actorOf, outboxTablesOf, recordEvent, type EventActor } from '@fleet/outbox';
import {
  BadUserInputError,
  ConflictError,
  NotFoundError,
  UnauthenticatedError,
  type Principal,
} from '@fleet/service-kit';
import { isPlatformAdmin } from '@fleet/service-kit';
import { isPlatformRole, isTenantRole, scopesOf } from '../access/roles.js';
import { newSecret, sameDigest, type SecretDigests } from '../credentials/secret-digests.js';
import type { AaaDatabase } from '../database/schema.js';
import { passwordProblem } from '../passwords/password-policy.js';
import type { PasswordHasher } from '../passwords/password-hasher.js';
import type { SessionStore } from '../sessions/session-store.js';
import {
  CONTROL,
  keyServiceCall,
  type TenantDirectory,
  type TenantRow,
} from '../tenants/tenant-directory.js';
import { isEmailAddress } from '../vault/email-address.js';
import type { PiiVault } from '../vault/pii-vault.js';
import { userFieldRef } from './user-fields.js';

export type UserRow = Selectable<AaaDatabase['app_user']>;
export type MembershipRow = Selectable<AaaDatabase['membership']>;

export interface Profile {
  email: string;
  fullName: string;
  phone: string | null;
}

export interface NewMemberInput {
  tenantId: string;
  email: string;
  fullName: string;
  phone?: string | null;
  roles: string[];
}

const ACTIVATION_TTL_MS = 7 * 24 * 3_600_000;
const PHONE = /^\+?[0-9 ()-]{4,32}$/;
const INVALID_ACTIVATION = 'Invalid or expired activation code';

/**
 * The people of each tenant: invitations, activation, roles, profiles and erasure. Personal
 * data is sealed in the vault before it reaches the database; events carry ids only.
 */
export class MemberDirectory {
  readonly #db: Kysely<AaaDatabase>;

  constructor(
    db: Kysely<AaaDatabase>,
    private readonly parts: {
      tenants: TenantDirectory;
      vault: PiiVault;
      hasher: PasswordHasher;
      digests: SecretDigests;
      sessions: SessionStore;
      onEvent: () => void;
    },
  ) {
    this.#db = db;
  }

  /**
   * Invites a member: the user exists at once, and activates the account with the one-time code
   * returned here (shown once, stored only as a digest), choosing their own password.
   */
  async createMember(
    input: NewMemberInput,
    principal: Principal,
    options: { platformRolesAllowed?: boolean } = {},
  ): Promise<{ user: UserRow; activationCode: string; activationExpiresAt: Date }> {
    const tenant = await this.parts.tenants.getTenant(input.tenantId);
    if (!tenant) throw new BadUserInputError('Unknown tenant', 'tenantId');
    const email = input.email.trim();
    if (!isEmailAddress(email)) throw new BadUserInputError('email must be an email address', 'email');
    const fullName = checkFullName(input.fullName);
    const phone = checkPhone(input.phone);
    const roles = checkRoles(input.roles, tenant, options.platformRolesAllowed ?? false);
    checkGrant(principal, roles);

    const id = randomUUID();
    const { vault } = this.parts;
    // Keys first: if the key service is down, nothing is written.
    const { emailIndex, userKey } = await keyServiceCall(async () => ({
      emailIndex: await vault.emailIndex(tenant.id, email),
      userKey: await vault.newUserKey(tenant.id, id),
    }));
    const ref = { id, tenant_id: tenant.id, key_version: userKey.version };
    const activationCode = newSecret('ac_', 20);
    const activationExpiresAt = new Date(Date.now() + ACTIVATION_TTL_MS);
    const user = await this.#db.transaction().execute(async (trx) => {
      const taken = await trx
        .selectFrom('app_user')
        .select('id')
        .where('tenant_id', '=', tenant.id)
        .where('email_bidx', '=', emailIndex)
        .executeTakeFirst();
      if (taken) throw new ConflictError('A member with this email exists in the tenant', 'email');
      const created = await trx
        .insertInto('app_user')
        .values({
          id,
          tenant_id: tenant.id,
          status: 'invited',
          key_version: userKey.version,
          email_bidx: emailIndex,
          email_sealed: vault.seal(userKey.key, userFieldRef(ref, 'email_sealed'), email),
          full_name_sealed: vault.seal(userKey.key, userFieldRef(ref, 'full_name_sealed'), fullName),
          phone_sealed:
            phone === null ? null : vault.seal(userKey.key, userFieldRef(ref, 'phone_sealed'), phone),
          password_hash: null,
          activation_digest: this.parts.digests.activationCode(id, activationCode),
          activation_expires_at: activationExpiresAt,
          totp_secret_sealed: null,
          totp_pending_sealed: null,
          totp_last_step: null,
          mfa_enrolled_at: null,
          erased_at: null,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      await vault.storeUserKey(trx, id, userKey);
      await trx.insertInto('membership').values({ tenant_id: tenant.id, user_id: id, roles }).execute();
      await this.#event(trx, actorOf(principal), created, 'user.invited', { roles });
      return created;
    });
    userKey.key.fill(0);
    this.parts.onEvent();
    return { user, activationCode, activationExpiresAt };
  }

  /** Issues a new activation code for an invited member (the old one stops working). */
  async reissueActivation(
    userId: string,
    principal: Principal,
  ): Promise<{ activationCode: string; activationExpiresAt: Date }> {
    const activationCode = newSecret('ac_', 20);
    const activationExpiresAt = new Date(Date.now() + ACTIVATION_TTL_MS);
    await this.#db.transaction().execute(async (trx) => {
      const user = await trx
        .updateTable('app_user')
        .set({
          activation_digest: this.parts.digests.activationCode(userId, activationCode),
          activation_expires_at: activationExpiresAt,
        })
        .where('id', '=', userId)
        .where('status', '=', 'invited')
        .returningAll()
        .executeTakeFirst();
      if (!user) throw new ConflictError('Only an invited member can get a new activation code');
      await this.#event(trx, actorOf(principal), user, 'user.activation_reissued', {});
    });
    this.parts.onEvent();
    return { activationCode, activationExpiresAt };
  }

  /** Activates an invited account with its one-time code and the member's own password. */
  async activate(input: { tenant: string; email: string; code: string; password: string }): Promise<UserRow> {
    if (input.code.length > 100) throw new BadUserInputError(INVALID_ACTIVATION, 'code');
    if (Buffer.byteLength(input.password) > 1024)
      throw new BadUserInputError('password is too long', 'password');
    const tenant = await this.parts.tenants.getTenantBySlug(input.tenant);
    if (!tenant) throw new BadUserInputError('Unknown tenant', 'tenant');
    const problem = passwordProblem(input.password, { email: input.email, tenantSlug: tenant.slug });
    if (problem) throw new BadUserInputError(problem, 'password');
    const emailIndex = await keyServiceCall(() => this.parts.vault.emailIndex(tenant.id, input.email));
    const user = await this.#db
      .selectFrom('app_user')
      .selectAll()
      .where('tenant_id', '=', tenant.id)
      .where('email_bidx', '=', emailIndex)
      .where('status', '=', 'invited')
      .executeTakeFirst();
    const valid =
      user?.activation_digest &&
      user.activation_expires_at &&
      user.activation_expires_at > new Date() &&
      sameDigest(user.activation_digest, this.parts.digests.activationCode(user.id, input.code));
    if (!user || !valid) throw new BadUserInputError(INVALID_ACTIVATION, 'code');
    const passwordHash = await this.parts.hasher.hash(input.password);
    const activated = await this.#db.transaction().execute(async (trx) => {
      const updated = await trx
        .updateTable('app_user')
        .set({
          status: 'active',
          password_hash: passwordHash,
          activation_digest: null,
          activation_expires_at: null,
        })
        .where('id', '=', user.id)
        .where('status', '=', 'invited')
        .where('activation_digest', '=', user.activation_digest)
        .returningAll()
        .executeTakeFirst();
      if (!updated) throw new BadUserInputError(INVALID_ACTIVATION, 'code');
      await this.#event(trx, { kind: 'user', id: user.id }, updated, 'user.activated', {});
      return updated;
    });
    this.parts.onEvent();
    return activated;
  }

  async setRoles(
    tenantId: string,
    userId: string,
    roles: string[],
    principal: Principal,
  ): Promise<MembershipRow> {
    const tenant = await this.parts.tenants.getTenant(tenantId);
    if (!tenant) throw new NotFoundError('Tenant');
    const checked = checkRoles(roles, tenant, tenant.kind === 'platform');
    checkGrant(principal, checked);
    const membership = await this.#db.transaction().execute(async (trx) => {
      const current = await this.#lockMembership(trx, tenantId, userId);
      await this.#keepAnOwner(trx, tenant, userId, checked);
      const updated = await trx
        .updateTable('membership')
        .set({ roles: checked })
        .where('tenant_id', '=', tenantId)
        .where('user_id', '=', userId)
        .returningAll()
        .executeTakeFirstOrThrow();
      const user = await this.#user(trx, userId);
      await this.#event(trx, actorOf(principal), user, 'membership.roles_changed', {
        from: current.roles,
        roles: checked,
      });
      return updated;
    });
    this.parts.onEvent();
    return membership;
  }

  /** Removes a member: the membership goes, the account is disabled and its sessions end. */
  async removeMember(tenantId: string, userId: string, principal: Principal): Promise<void> {
    const tenant = await this.parts.tenants.getTenant(tenantId);
    if (!tenant) throw new NotFoundError('Tenant');
    await this.#db.transaction().execute(async (trx) => {
      await this.#lockMembership(trx, tenantId, userId);
      await this.#keepAnOwner(trx, tenant, userId, []);
      await trx
        .deleteFrom('membership')
        .where('tenant_id', '=', tenantId)
        .where('user_id', '=', userId)
        .execute();
      const user = await trx
        .updateTable('app_user')
        .set({ status: 'disabled' })
        .where('id', '=', userId)
        .where('status', '!=', 'erased')
        .returningAll()
        .executeTakeFirstOrThrow();
      await this.parts.sessions.revokeAllOf(trx, userId, 'member-removed', principal);
      await this.#event(trx, actorOf(principal), user, 'membership.removed', {});
    });
    this.parts.onEvent();
  }

  /**
   * Erases a person (crypto-shredding): their keys, blind index, sealed fields, password and
   * second factor are destroyed; the user's id, memberships' history and events remain.
   */
  async erase(userId: string, principal: Principal): Promise<UserRow> {
    const found = await this.getUser(userId);
    if (!found) throw new NotFoundError('User');
    // Read before the transaction: the embedded database has one connection, which it holds.
    const tenant = await this.parts.tenants.getTenant(found.tenant_id);
    const erased = await this.#db.transaction().execute(async (trx) => {
      const user = await trx
        .selectFrom('app_user')
        .selectAll()
        .where('id', '=', userId)
        .forUpdate()
        .executeTakeFirstOrThrow();
      if (user.status === 'erased') return user;
      if (tenant) await this.#keepAnOwner(trx, tenant, userId, []);
      await this.parts.vault.destroyUserKeys(trx, userId);
      await trx.deleteFrom('recovery_code').where('user_id', '=', userId).execute();
      await trx.deleteFrom('membership').where('user_id', '=', userId).execute();
      const updated = await trx
        .updateTable('app_user')
        .set({
          status: 'erased',
          erased_at: new Date(),
          email_bidx: null,
          email_sealed: null,
          full_name_sealed: null,
          phone_sealed: null,
          password_hash: null,
          activation_digest: null,
          activation_expires_at: null,
          totp_secret_sealed: null,
          totp_pending_sealed: null,
          totp_last_step: null,
          mfa_enrolled_at: null,
        })
        .where('id', '=', userId)
        .returningAll()
        .executeTakeFirstOrThrow();
      await this.parts.sessions.revokeAllOf(trx, userId, 'user-erased', principal);
      await this.#event(trx, actorOf(principal), updated, 'user.erased', {});
      return updated;
    });
    this.parts.onEvent();
    return erased;
  }

  /** A user's personal data, or null when it can no longer be read (erased). */
  async profileOf(user: UserRow): Promise<Profile | null> {
    if (user.key_version === null || !user.email_sealed || !user.full_name_sealed) return null;
    const key = await this.parts.vault.userKey(user.tenant_id, user.id, user.key_version);
    if (!key) return null;
    const { vault } = this.parts;
    return {
      email: vault.open(key, userFieldRef(user, 'email_sealed'), user.email_sealed),
      fullName: vault.open(key, userFieldRef(user, 'full_name_sealed'), user.full_name_sealed),
      phone: user.phone_sealed
        ? vault.open(key, userFieldRef(user, 'phone_sealed'), user.phone_sealed)
        : null,
    };
  }

  async updateProfile(
    userId: string,
    input: { fullName?: string | null; phone?: string | null },
    principal: Principal,
  ): Promise<UserRow> {
    const user = await this.getUser(userId);
    if (!user || user.key_version === null) throw new NotFoundError('User');
    const fullName =
      input.fullName === undefined || input.fullName === null ? undefined : checkFullName(input.fullName);
    const phone = input.phone === undefined ? undefined : checkPhone(input.phone);
    const key = await keyServiceCall(() =>
      this.parts.vault.userKey(user.tenant_id, user.id, user.key_version!),
    );
    if (!key) throw new NotFoundError('User');
    const { vault } = this.parts;
    const updated = await this.#db.transaction().execute(async (trx) => {
      const row = await trx
        .updateTable('app_user')
        .set({
          ...(fullName !== undefined
            ? { full_name_sealed: vault.seal(key, userFieldRef(user, 'full_name_sealed'), fullName) }
            : {}),
          ...(phone !== undefined
            ? {
                phone_sealed:
                  phone === null ? null : vault.seal(key, userFieldRef(user, 'phone_sealed'), phone),
              }
            : {}),
        })
        .where('id', '=', userId)
        .returningAll()
        .executeTakeFirstOrThrow();
      await this.#event(trx, actorOf(principal), row, 'user.profile_changed', {
        fields: [...(fullName !== undefined ? ['fullName'] : []), ...(phone !== undefined ? ['phone'] : [])],
      });
      return row;
    });
    this.parts.onEvent();
    return updated;
  }

  /** Changes the caller's password; every other session of theirs ends. */
  async changePassword(
    userId: string,
    input: { currentPassword: string; newPassword: string },
    principal: Principal & { kind: 'user' },
  ): Promise<void> {
    if (Buffer.byteLength(input.currentPassword) > 1024) {
      throw new BadUserInputError('currentPassword is too long', 'currentPassword');
    }
    const user = await this.getUser(userId);
    if (!user?.password_hash) throw new NotFoundError('User');
    const tenant = await this.parts.tenants.getTenant(user.tenant_id);
    const profile = await this.profileOf(user);
    const problem = passwordProblem(input.newPassword, {
      ...(profile ? { email: profile.email } : {}),
      ...(tenant ? { tenantSlug: tenant.slug } : {}),
    });
    if (problem) throw new BadUserInputError(problem, 'newPassword');
    const verified = await this.parts.hasher.verify(user.password_hash, input.currentPassword);
    if (!verified.ok) throw new UnauthenticatedError('The current password is wrong');
    const passwordHash = await this.parts.hasher.hash(input.newPassword);
    await this.#db.transaction().execute(async (trx) => {
      const row = await trx
        .updateTable('app_user')
        .set({ password_hash: passwordHash })
        .where('id', '=', userId)
        .returningAll()
        .executeTakeFirstOrThrow();
      await this.parts.sessions.revokeAllOf(trx, userId, 'password-changed', principal, principal.sessionId);
      await this.#event(trx, actorOf(principal), row, 'user.password_changed', {});
    });
    this.parts.onEvent();
  }

  async getUser(id: string): Promise<UserRow | undefined> {
    return this.#db.selectFrom('app_user').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async membershipsOf(userId: string): Promise<MembershipRow[]> {
    return this.#db.selectFrom('membership').selectAll().where('user_id', '=', userId).execute();
  }

  async membersOf(tenantId: string): Promise<MembershipRow[]> {
    return this.#db
      .selectFrom('membership')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .orderBy('created_at')
      .limit(10_000)
      .execute();
  }

  async #user(trx: Transaction<AaaDatabase>, userId: string): Promise<UserRow> {
    return trx.selectFrom('app_user').selectAll().where('id', '=', userId).executeTakeFirstOrThrow();
  }

  async #lockMembership(
    trx: Transaction<AaaDatabase>,
    tenantId: string,
    userId: string,
  ): Promise<MembershipRow> {
    const membership = await trx
      .selectFrom('membership')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('user_id', '=', userId)
      .forUpdate()
      .executeTakeFirst();
    if (!membership) throw new NotFoundError('Member');
    return membership;
  }

  /**
   * A tenant that has an owner keeps one (the platform tenant: a platform administrator): the
   * last cannot be removed, demoted or erased.
   */
  async #keepAnOwner(
    trx: Transaction<AaaDatabase>,
    tenant: TenantRow,
    userId: string,
    newRoles: readonly string[],
  ): Promise<void> {
    const ownerRoles = tenant.kind === 'platform' ? ['platform-admin'] : ['owner'];
    if (newRoles.some((role) => ownerRoles.includes(role))) return;
    const members = await trx
      .selectFrom('membership')
      .select(['user_id', 'roles'])
      .where('tenant_id', '=', tenant.id)
      .forUpdate()
      .execute();
    const others = members.filter((m) => m.user_id !== userId && m.roles.some((r) => ownerRoles.includes(r)));
    const isOwner = members.some((m) => m.user_id === userId && m.roles.some((r) => ownerRoles.includes(r)));
    if (isOwner && others.length === 0) {
      throw new ConflictError('The last owner of a tenant cannot be removed or demoted', 'roles');
    }
  }

  async #event(
    trx: Transaction<AaaDatabase>,
    actor: EventActor,
    user: UserRow,
    type: string,
    extra: Record<string, unknown>,
  ): Promise<void> {
    await recordEvent(outboxTablesOf(trx), {
      aggregateType: 'user',
      aggregateId: user.id,
      type,
      tenantId: user.tenant_id,
      actor,
      payload: { id: user.id, tenantId: user.tenant_id, status: user.status, ...extra },
    });
  }
}

function checkFullName(value: string): string {
  const name = value.normalize('NFC').trim();
  if (name.length < 1 || name.length > 200 || CONTROL.test(name)) {
    throw new BadUserInputError('fullName must be 1 to 200 printable characters', 'fullName');
  }
  return name;
}

function checkPhone(value: string | null | undefined): string | null {
  if (value === null || value === undefined || value.trim() === '') return null;
  const phone = value.trim();
  if (!PHONE.test(phone)) throw new BadUserInputError('phone must be digits, spaces, +, -, ( or )', 'phone');
  return phone;
}

function checkRoles(roles: readonly string[], tenant: TenantRow, platformRolesAllowed: boolean): string[] {
  const unique = [...new Set(roles)];
  if (unique.length === 0 || unique.length > 8)
    throw new BadUserInputError('roles must name 1 to 8 roles', 'roles');
  for (const role of unique) {
    const allowed =
      tenant.kind === 'platform' && platformRolesAllowed ? isPlatformRole(role) : isTenantRole(role);
    if (!allowed) throw new BadUserInputError(`Unknown role for this tenant: ${role.slice(0, 40)}`, 'roles');
  }
  return unique.sort();
}

/** Nobody grants more than they hold: an admin cannot make an owner (platform admins can). */
function checkGrant(principal: Principal, roles: readonly string[]): void {
  if (principal.kind === 'anonymous' || isPlatformAdmin(principal)) return;
  const held = new Set(principal.scopes);
  const beyond = scopesOf(roles).filter((scope) => !held.has(scope));
  if (beyond.length > 0) {
    throw new BadUserInputError(
      `You cannot grant roles with scopes you do not hold: ${beyond.join(', ')}`,
      'roles',
    );
  }
}
