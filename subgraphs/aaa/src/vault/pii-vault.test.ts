import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalKeyProvider, DecryptionError, type KeyProvider } from '@fleet/envelope';
import { ANONYMOUS, createLogger, openDatabase, type Database } from '@fleet/service-kit';
import { migrations } from '../database/migrations.js';
import type { AaaDatabase } from '../database/schema.js';
import { userFieldRef } from '../members/user-fields.js';
import { PiiVault } from './pii-vault.js';

const logger = createLogger({ service: 'test', level: 'silent' });

describe('the PII vault', () => {
  let dir: string;
  let database: Database<AaaDatabase>;
  let provider: KeyProvider;
  let vault: PiiVault;

  /** A tenant and a user with a key, as aaa stores them. */
  async function newUser() {
    const tenantId = randomUUID();
    const userId = randomUUID();
    const tenantKey = await vault.newTenantKey(tenantId);
    await database.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('tenant')
        .values({ id: tenantId, name: 'T', slug: tenantId.slice(0, 8) })
        .execute();
      await vault.storeTenantKey(trx, tenantId, tenantKey);
    });
    const userKey = await vault.newUserKey(tenantId, userId);
    await database.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('app_user')
        .values({
          id: userId,
          tenant_id: tenantId,
          status: 'active',
          key_version: 1,
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
          erased_at: null,
        })
        .execute();
      await vault.storeUserKey(trx, userId, userKey);
    });
    return { tenantId, userId, user: { id: userId, tenant_id: tenantId, key_version: 1 } };
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pii-vault-'));
    database = await openDatabase<AaaDatabase>({
      url: undefined,
      dataDir: join(dir, 'db'),
      migrations,
      logger,
    });
    provider = await createLocalKeyProvider({ keyFile: join(dir, 'master.key') });
    vault = new PiiVault(database.db, provider, {
      cacheTtlMs: 60_000,
      cacheMaxEntries: 1_000,
      onEvent: () => {},
    });
  });

  afterAll(async () => {
    await database?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('seals a field so that it opens only at its own place', async () => {
    const { tenantId, userId, user } = await newUser();
    const key = (await vault.userKey(tenantId, userId, 1))!;
    const ref = userFieldRef(user, 'email_sealed');
    const sealed = vault.seal(key, ref, 'ada@example.com');
    expect(sealed.includes(Buffer.from('ada@example.com'))).toBe(false);
    expect(vault.open(key, ref, sealed)).toBe('ada@example.com');
    // Moved to another column, another row, another user or version: refused.
    expect(() => vault.open(key, userFieldRef(user, 'full_name_sealed'), sealed)).toThrow(DecryptionError);
    expect(() => vault.open(key, { ...ref, rowId: randomUUID() }, sealed)).toThrow(DecryptionError);
    expect(() => vault.open(key, { ...ref, keyVersion: 2 }, sealed)).toThrow(DecryptionError);
    const other = await newUser();
    const otherKey = (await vault.userKey(other.tenantId, other.userId, 1))!;
    expect(() => vault.open(otherKey, { ...ref, userId: other.userId }, sealed)).toThrow(DecryptionError);
  });

  it('gives one blind index per tenant and normalised address', async () => {
    const a = await newUser();
    const b = await newUser();
    const index = await vault.emailIndex(a.tenantId, 'Ada@Example.com ');
    expect(await vault.emailIndex(a.tenantId, 'ada@example.com')).toEqual(index);
    expect(await vault.emailIndex(b.tenantId, 'ada@example.com')).not.toEqual(index);
  });

  it('forgets a user whose keys are destroyed: nothing opens their fields again', async () => {
    const { tenantId, userId, user } = await newUser();
    const key = (await vault.userKey(tenantId, userId, 1))!;
    const sealed = vault.seal(key, userFieldRef(user, 'phone_sealed'), '+41 1');
    await database.db.transaction().execute((trx) => vault.destroyUserKeys(trx, userId));
    expect(await vault.userKey(tenantId, userId, 1)).toBeUndefined();
    // A fresh vault, as after a restart, has nothing cached either.
    const restarted = new PiiVault(database.db, provider, {
      cacheTtlMs: 60_000,
      cacheMaxEntries: 10,
      onEvent: () => {},
    });
    expect(await restarted.userKey(tenantId, userId, 1)).toBeUndefined();
    expect(sealed.length).toBeGreaterThan(0);
  });

  it('re-wraps tenant keys under a new key-encryption key, leaving the data readable', async () => {
    const { tenantId, userId, user } = await newUser();
    const key = (await vault.userKey(tenantId, userId, 1))!;
    const sealed = vault.seal(key, userFieldRef(user, 'email_sealed'), 'kept@example.com');
    const before = await database.db.selectFrom('tenant_key').select(['tenant_id', 'key_ref']).execute();
    const rotated = await vault.rotateKeyEncryptionKey(ANONYMOUS);
    expect(rotated.rewrapped).toBe(before.length);
    const after = await database.db.selectFrom('tenant_key').select('key_ref').distinct().execute();
    expect(after.map((r) => r.key_ref)).toEqual([rotated.keyRef]);
    expect(before.every((r) => r.key_ref !== rotated.keyRef)).toBe(true);
    const restarted = new PiiVault(database.db, provider, {
      cacheTtlMs: 60_000,
      cacheMaxEntries: 10,
      onEvent: () => {},
    });
    const again = (await restarted.userKey(tenantId, userId, 1))!;
    expect(restarted.open(again, userFieldRef(user, 'email_sealed'), sealed)).toBe('kept@example.com');
  });
});
