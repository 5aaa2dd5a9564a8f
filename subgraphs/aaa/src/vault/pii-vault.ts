import { createHmac, randomBytes } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import {
  canonicalAad,
  deriveKey,
  KeyCache,
  openField,
  sealField,
  type KeyProvider,
  type WrappedKey,
} from '@fleet/envelope';
import { actorOf, outboxTablesOf, recordEvent } from '@fleet/outbox';
import type { Principal } from '@fleet/service-kit';
import type { AaaDatabase } from '../database/schema.js';
import { normalizeEmail } from './email-address.js';

/** Where a sealed field lives: every part of it is bound into the field's authenticated data. */
export interface FieldRef {
  tenantId: string;
  userId: string;
  table: string;
  column: string;
  rowId: string;
  keyVersion: number;
}

/** The key material of a new user, to be stored in the same transaction as the user. */
export interface NewUserKey {
  version: number;
  tenantKeyVersion: number;
  wrapped: Buffer;
  key: Buffer;
}

export interface PiiVaultOptions {
  cacheTtlMs: number;
  cacheMaxEntries: number;
  /** Wakes the outbox relay after a commit that recorded events. */
  onEvent: () => void;
}

const TENANT_KEY_PURPOSE = 'tenant-key';

/**
 * The PII vault: the key hierarchy of DESIGN.md, from the provider's key-encryption key down to
 * each field.
 *
 *   provider key → tenant key (a data key, stored wrapped by the provider)
 *                → user key (random, sealed under the tenant key)
 *                → field (sealed under the user key, bound to tenant, user, table, column, row, version)
 *
 * Unwrapped keys stay in a bounded cache with a TTL, so steady traffic calls the provider
 * nothing. Destroying a user's key rows makes everything sealed under them unreadable.
 */
export class PiiVault {
  readonly #db: Kysely<AaaDatabase>;
  readonly #provider: KeyProvider;
  readonly #keys: KeyCache;
  readonly #indexKeys = new Map<string, Buffer>();
  readonly #onEvent: () => void;

  constructor(db: Kysely<AaaDatabase>, provider: KeyProvider, options: PiiVaultOptions) {
    this.#db = db;
    this.#provider = provider;
    this.#keys = new KeyCache({ maxEntries: options.cacheMaxEntries, ttlMs: options.cacheTtlMs });
    this.#onEvent = options.onEvent;
  }

  get cacheStats(): { hits: number; misses: number } {
    return this.#keys.stats;
  }

  /**
   * Creates a tenant's key at the provider. Called before the transaction that stores the
   * tenant, so a provider outage fails the request before anything is written.
   */
  async newTenantKey(tenantId: string): Promise<{ version: number; wrapped: WrappedKey }> {
    const { plaintext, wrapped } = await this.#provider.generateDataKey(tenantContext(tenantId));
    plaintext.fill(0);
    return { version: 1, wrapped };
  }

  async storeTenantKey(
    trx: Transaction<AaaDatabase>,
    tenantId: string,
    key: { version: number; wrapped: WrappedKey },
  ): Promise<void> {
    await trx
      .insertInto('tenant_key')
      .values({
        tenant_id: tenantId,
        version: key.version,
        wrapped: key.wrapped.wrapped,
        key_ref: key.wrapped.keyRef,
        rewrapped_at: null,
      })
      .execute();
  }

  /** The tenant's current key, from the cache or unwrapped by the provider. */
  async tenantKey(tenantId: string): Promise<{ version: number; key: Buffer }> {
    const row = await this.#db
      .selectFrom('tenant_key')
      .select(['version'])
      .where('tenant_id', '=', tenantId)
      .orderBy('version', 'desc')
      .executeTakeFirst();
    if (!row) throw new Error('The tenant has no key');
    return { version: row.version, key: await this.#tenantKeyVersion(tenantId, row.version) };
  }

  async #tenantKeyVersion(tenantId: string, version: number): Promise<Buffer> {
    return this.#keys.get(`tenant:${tenantId}:${version}`, async () => {
      const row = await this.#db
        .selectFrom('tenant_key')
        .select(['wrapped', 'key_ref'])
        .where('tenant_id', '=', tenantId)
        .where('version', '=', version)
        .executeTakeFirst();
      if (!row) throw new Error('The tenant key is gone');
      return this.#provider.unwrap({ wrapped: row.wrapped, keyRef: row.key_ref }, tenantContext(tenantId));
    });
  }

  /** A fresh key for a new user, sealed under the tenant's current key. */
  async newUserKey(tenantId: string, userId: string): Promise<NewUserKey> {
    const tenant = await this.tenantKey(tenantId);
    const key = randomBytes(32);
    const version = 1;
    const wrapped = sealField(tenant.key, key, userKeyAad(tenantId, userId, version, tenant.version));
    return { version, tenantKeyVersion: tenant.version, wrapped, key };
  }

  async storeUserKey(trx: Transaction<AaaDatabase>, userId: string, key: NewUserKey): Promise<void> {
    await trx
      .insertInto('user_key')
      .values({
        user_id: userId,
        version: key.version,
        tenant_key_version: key.tenantKeyVersion,
        wrapped: key.wrapped,
      })
      .execute();
  }

  /** The user's key, or undefined once it has been destroyed. */
  async userKey(tenantId: string, userId: string, version: number): Promise<Buffer | undefined> {
    try {
      return await this.#keys.get(`user:${userId}:${version}`, async () => {
        const row = await this.#db
          .selectFrom('user_key')
          .select(['wrapped', 'tenant_key_version'])
          .where('user_id', '=', userId)
          .where('version', '=', version)
          .executeTakeFirst();
        if (!row) throw new UserKeyGone();
        const tenantKey = await this.#tenantKeyVersion(tenantId, row.tenant_key_version);
        return openField(
          tenantKey,
          row.wrapped,
          userKeyAad(tenantId, userId, version, row.tenant_key_version),
        );
      });
    } catch (error) {
      if (error instanceof UserKeyGone) return undefined;
      throw error;
    }
  }

  seal(key: Buffer, ref: FieldRef, value: string): Buffer {
    return sealField(key, Buffer.from(value, 'utf8'), fieldAad(ref));
  }

  open(key: Buffer, ref: FieldRef, sealed: Buffer): string {
    return openField(key, sealed, fieldAad(ref)).toString('utf8');
  }

  /**
   * The blind index of an email address: an HMAC of its normalised form under a key derived
   * from the tenant key, so login finds a user without decrypting anyone, and the index dies
   * with the tenant key.
   */
  async emailIndex(tenantId: string, email: string): Promise<Buffer> {
    const tenant = await this.tenantKey(tenantId);
    const cacheKey = `${tenantId}:${tenant.version}`;
    let indexKey = this.#indexKeys.get(cacheKey);
    if (!indexKey) {
      indexKey = deriveKey(tenant.key, 'email-bidx-v1');
      if (this.#indexKeys.size > 10_000) this.#indexKeys.clear();
      this.#indexKeys.set(cacheKey, indexKey);
    }
    return createHmac('sha256', indexKey).update(normalizeEmail(email), 'utf8').digest();
  }

  /** Crypto-shredding: deletes every key of the user, inside the caller's transaction. */
  async destroyUserKeys(trx: Transaction<AaaDatabase>, userId: string): Promise<void> {
    const rows = await trx
      .deleteFrom('user_key')
      .where('user_id', '=', userId)
      .returning('version')
      .execute();
    for (const row of rows) this.#keys.delete(`user:${userId}:${row.version}`);
  }

  /**
   * Re-wraps every tenant key under the provider's current key-encryption key (with KMS, under
   * its newest key material too). The data stays as it is: only the wrapping of each tenant key
   * changes. Returns how many keys moved.
   */
  async rewrapTenantKeys(): Promise<{ rewrapped: number; keyRef: string }> {
    const keyRef = this.#provider.currentKeyRef();
    const rows = await this.#db
      .selectFrom('tenant_key')
      .select(['tenant_id', 'version', 'wrapped', 'key_ref'])
      .execute();
    let rewrapped = 0;
    for (const row of rows) {
      const moved = await this.#provider.rewrap(
        { wrapped: row.wrapped, keyRef: row.key_ref },
        tenantContext(row.tenant_id),
      );
      await this.#db
        .updateTable('tenant_key')
        .set({ wrapped: moved.wrapped, key_ref: moved.keyRef, rewrapped_at: new Date() })
        .where('tenant_id', '=', row.tenant_id)
        .where('version', '=', row.version)
        .where('key_ref', '=', row.key_ref)
        .execute();
      rewrapped++;
    }
    return { rewrapped, keyRef };
  }

  /**
   * Starts a new key-encryption key at the provider, then moves every tenant key under it.
   * Accounted for in the outbox (how many keys moved, never key material).
   */
  async rotateKeyEncryptionKey(principal: Principal): Promise<{ rewrapped: number; keyRef: string }> {
    await this.#provider.rotate();
    const result = await this.rewrapTenantKeys();
    await this.#db.transaction().execute(async (trx) => {
      await recordEvent(outboxTablesOf(trx), {
        aggregateType: 'key_encryption_key',
        aggregateId: 'aaa',
        type: 'key_encryption_key.rotated',
        tenantId: null,
        actor: actorOf(principal),
        payload: { provider: this.#provider.kind, tenantKeysRewrapped: result.rewrapped },
      });
    });
    this.#onEvent();
    return result;
  }
}

class UserKeyGone extends Error {}

function tenantContext(tenantId: string) {
  return { tenant: tenantId, purpose: TENANT_KEY_PURPOSE };
}

function userKeyAad(tenantId: string, userId: string, version: number, tenantKeyVersion: number): Buffer {
  return canonicalAad('fleet-user-key-v1', [tenantId, userId, version, tenantKeyVersion]);
}

function fieldAad(ref: FieldRef): Buffer {
  return canonicalAad('fleet-field-v1', [
    ref.tenantId,
    ref.userId,
    ref.table,
    ref.column,
    ref.rowId,
    ref.keyVersion,
  ]);
}
