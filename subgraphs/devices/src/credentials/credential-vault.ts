import type { Kysely } from 'kysely';
import {
  canonicalAad,
  KeyCache,
  openField,
  sealField,
  type EncryptionContext,
  type KeyProvider,
} from '@fleet/envelope';
import type { DevicesDatabase } from '../database/schema.js';

/** What the platform logs in to a router with. Never returned, logged or put in an event. */
export interface RouterCredentials {
  username: string;
  password: string;
}

/** Credentials as stored: sealed, with the version of the tenant key that sealed them. */
export interface SealedCredentials {
  sealed: Buffer;
  keyVersion: number;
}

const PURPOSE = 'device-credentials';
const KEY_VERSION = 1;

/**
 * The devices service's own key hierarchy for router credentials:
 *
 *   provider key (devices' master key file or KMS key) → tenant key (a data key, stored wrapped,
 *   bound to {tenant, purpose}) → the device's credentials (AES-256-GCM, bound to tenant, device
 *   and key version)
 *
 * A tenant key is made at the provider on the tenant's first device; unwrapped keys stay in a
 * bounded cache, so steady work makes no provider call.
 */
export class CredentialVault {
  readonly #db: Kysely<DevicesDatabase>;
  readonly #provider: KeyProvider;
  readonly #keys: KeyCache;

  constructor(
    db: Kysely<DevicesDatabase>,
    provider: KeyProvider,
    cache: { ttlMs: number; maxEntries: number },
  ) {
    this.#db = db;
    this.#provider = provider;
    this.#keys = new KeyCache({ ttlMs: cache.ttlMs, maxEntries: cache.maxEntries });
  }

  async seal(tenantId: string, deviceId: string, credentials: RouterCredentials): Promise<SealedCredentials> {
    const key = await this.#tenantKey(tenantId, KEY_VERSION);
    const plaintext = Buffer.from(JSON.stringify(credentials), 'utf8');
    try {
      return {
        sealed: sealField(key, plaintext, aadOf(tenantId, deviceId, KEY_VERSION)),
        keyVersion: KEY_VERSION,
      };
    } finally {
      plaintext.fill(0);
    }
  }

  async open(tenantId: string, deviceId: string, stored: SealedCredentials): Promise<RouterCredentials> {
    const key = await this.#tenantKey(tenantId, stored.keyVersion);
    const plaintext = openField(key, stored.sealed, aadOf(tenantId, deviceId, stored.keyVersion));
    try {
      return JSON.parse(plaintext.toString('utf8')) as RouterCredentials;
    } finally {
      plaintext.fill(0);
    }
  }

  /** The tenant's key of that version: from the cache, from its stored wrap, or new at the provider. */
  #tenantKey(tenantId: string, version: number): Promise<Buffer> {
    return this.#keys.get(`${tenantId}/${version}`, async () => {
      const context = contextOf(tenantId);
      const stored = await this.#storedKey(tenantId, version);
      if (stored) return this.#provider.unwrap(stored, context);
      const { plaintext, wrapped } = await this.#provider.generateDataKey(context);
      await this.#db
        .insertInto('tenant_key')
        .values({ tenant_id: tenantId, version, wrapped: wrapped.wrapped, key_ref: wrapped.keyRef })
        .onConflict((oc) => oc.columns(['tenant_id', 'version']).doNothing())
        .execute();
      // Another process may have stored its key first: the stored one is the tenant's key.
      const winner = await this.#storedKey(tenantId, version);
      if (winner && !winner.wrapped.equals(wrapped.wrapped)) {
        plaintext.fill(0);
        return this.#provider.unwrap(winner, context);
      }
      return plaintext;
    });
  }

  async #storedKey(tenantId: string, version: number) {
    const row = await this.#db
      .selectFrom('tenant_key')
      .select(['wrapped', 'key_ref'])
      .where('tenant_id', '=', tenantId)
      .where('version', '=', version)
      .executeTakeFirst();
    // PGlite returns bytea as a Uint8Array, PostgreSQL as a Buffer.
    return row ? { wrapped: Buffer.from(row.wrapped), keyRef: row.key_ref } : undefined;
  }
}

function contextOf(tenantId: string): EncryptionContext {
  return { tenant: tenantId, purpose: PURPOSE };
}

function aadOf(tenantId: string, deviceId: string, keyVersion: number): Buffer {
  return canonicalAad('fleet/devices/credentials', [tenantId, deviceId, keyVersion]);
}
