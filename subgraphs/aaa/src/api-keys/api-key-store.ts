import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import { actorOf, outboxTablesOf, recordEvent } from '@fleet/outbox';
import { BadUserInputError, NotFoundError, type Principal } from '@fleet/service-kit';
import { TENANT_SCOPES } from '../access/roles.js';
import { isPlatformAdmin } from '@fleet/service-kit';
import { newSecret, type SecretDigests } from '../credentials/secret-digests.js';
import type { AaaDatabase } from '../database/schema.js';
import { CONTROL, type TenantDirectory } from '../tenants/tenant-directory.js';

export type ApiKeyRow = Selectable<AaaDatabase['api_key']>;

const MAX_LIFETIME_MS = 366 * 24 * 3_600_000;
const KEY_PREFIX = 'fk_';
const KEY_SHAPE = /^fk_[A-Za-z0-9_-]{43}$/;
/** last_used_at is written at most this often per key, so verification stays a read. */
const LAST_USED_RESOLUTION_MS = 60_000;

export interface VerifiedApiKey {
  keyId: string;
  tenantId: string;
  scopes: string[];
  /** The operations the key may run (SHA-256 of their text, hex); null means any. */
  documents: string[] | null;
  expiresAt: Date;
}

const DOCUMENT_HASH = /^[0-9a-f]{64}$/;
const MAX_TRUSTED_DOCUMENTS = 1_000;

/**
 * Partner API keys: created per tenant with scopes and an expiry, shown once, stored as an HMAC
 * under a pepper (a copy of the database alone cannot test guesses), with a prefix and last-four
 * hint to recognise them. The gateway verifies keys here and caches the answer briefly;
 * revocations reach it through its revocation feed.
 */
export class ApiKeyStore {
  readonly #db: Kysely<AaaDatabase>;

  constructor(
    db: Kysely<AaaDatabase>,
    private readonly parts: { tenants: TenantDirectory; digests: SecretDigests; onEvent: () => void },
  ) {
    this.#db = db;
  }

  async create(
    input: {
      tenantId: string;
      name: string;
      scopes: string[];
      expiresAt: string;
      trustedDocuments?: string[] | null;
    },
    principal: Principal,
  ): Promise<{ apiKey: ApiKeyRow; key: string }> {
    if (principal.kind !== 'user')
      throw new BadUserInputError('Only a signed-in person can create API keys', 'tenantId');
    const tenant = await this.parts.tenants.getTenant(input.tenantId);
    if (!tenant || tenant.kind !== 'customer') throw new BadUserInputError('Unknown tenant', 'tenantId');
    const name = input.name.trim();
    if (name.length < 1 || name.length > 100 || CONTROL.test(name)) {
      throw new BadUserInputError('name must be 1 to 100 printable characters', 'name');
    }
    const scopes = [...new Set(input.scopes)].sort();
    if (scopes.length === 0) throw new BadUserInputError('scopes must name at least one scope', 'scopes');
    for (const scope of scopes) {
      if (!(TENANT_SCOPES as readonly string[]).includes(scope)) {
        throw new BadUserInputError(`Unknown scope: ${scope.slice(0, 40)}`, 'scopes');
      }
      // A key never holds more than the person who creates it.
      if (!isPlatformAdmin(principal) && !principal.scopes.includes(scope)) {
        throw new BadUserInputError(`You do not hold the scope ${scope}`, 'scopes');
      }
    }
    const expiresAt = new Date(input.expiresAt);
    const now = Date.now();
    if (
      !/^\d{4}-\d{2}-\d{2}T/.test(input.expiresAt) ||
      Number.isNaN(expiresAt.getTime()) ||
      expiresAt.getTime() <= now + 60_000 ||
      expiresAt.getTime() > now + MAX_LIFETIME_MS
    ) {
      throw new BadUserInputError(
        'expiresAt must be an ISO date-time between now and one year ahead',
        'expiresAt',
      );
    }
    const documents = checkTrustedDocuments(input.trustedDocuments);
    const key = newSecret(KEY_PREFIX);
    const apiKey = await this.#db.transaction().execute(async (trx) => {
      const created = await trx
        .insertInto('api_key')
        .values({
          id: randomUUID(),
          tenant_id: tenant.id,
          name,
          digest: this.parts.digests.apiKey(key),
          prefix: key.slice(0, 8),
          last_four: key.slice(-4),
          scopes,
          document_hashes: documents,
          created_by: principal.userId,
          expires_at: expiresAt,
          revoked_at: null,
          last_used_at: null,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      await recordEvent(outboxTablesOf(trx), {
        aggregateType: 'api_key',
        aggregateId: created.id,
        type: 'api_key.created',
        tenantId: tenant.id,
        actor: actorOf(principal),
        payload: {
          id: created.id,
          tenantId: tenant.id,
          scopes,
          trustedDocuments: documents?.length ?? null,
          expiresAt: expiresAt.toISOString(),
        },
      });
      return created;
    });
    this.parts.onEvent();
    return { apiKey, key };
  }

  async revoke(id: string, principal: Principal): Promise<ApiKeyRow> {
    const revoked = await this.#db.transaction().execute(async (trx) => {
      const row = await trx
        .selectFrom('api_key')
        .selectAll()
        .where('id', '=', id)
        .forUpdate()
        .executeTakeFirst();
      if (!row) throw new NotFoundError('API key');
      if (row.revoked_at) return row;
      const updated = await trx
        .updateTable('api_key')
        .set({ revoked_at: new Date() })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirstOrThrow();
      await recordEvent(outboxTablesOf(trx), {
        aggregateType: 'api_key',
        aggregateId: id,
        type: 'api_key.revoked',
        tenantId: row.tenant_id,
        actor: actorOf(principal),
        payload: { id, tenantId: row.tenant_id },
      });
      return updated;
    });
    this.parts.onEvent();
    return revoked;
  }

  async get(id: string): Promise<ApiKeyRow | undefined> {
    return this.#db.selectFrom('api_key').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async listOf(tenantId: string): Promise<ApiKeyRow[]> {
    return this.#db
      .selectFrom('api_key')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .orderBy('created_at', 'desc')
      .limit(1_000)
      .execute();
  }

  /** The key's identity if it is live: known, not revoked, not expired. */
  async verify(key: string): Promise<VerifiedApiKey | undefined> {
    if (!KEY_SHAPE.test(key)) return undefined;
    const now = new Date();
    const row = await this.#db
      .selectFrom('api_key')
      .selectAll()
      .where('digest', '=', this.parts.digests.apiKey(key))
      .where('revoked_at', 'is', null)
      .where('expires_at', '>', now)
      .executeTakeFirst();
    if (!row) return undefined;
    if (!row.last_used_at || now.getTime() - row.last_used_at.getTime() > LAST_USED_RESOLUTION_MS) {
      await this.#db.updateTable('api_key').set({ last_used_at: now }).where('id', '=', row.id).execute();
    }
    return {
      keyId: row.id,
      tenantId: row.tenant_id,
      scopes: row.scopes,
      documents: row.document_hashes,
      expiresAt: row.expires_at,
    };
  }

  /** Keys revoked in the last hour: the gateway drops them from its cache at once. */
  async recentlyRevoked(): Promise<string[]> {
    const rows = await this.#db
      .selectFrom('api_key')
      .select('id')
      .where('revoked_at', '>', new Date(Date.now() - 3_600_000))
      .limit(100_000)
      .execute();
    return rows.map((row) => row.id);
  }
}

/** The trusted documents of a key: distinct lower-case SHA-256 hex digests, or null for any. */
function checkTrustedDocuments(hashes: string[] | null | undefined): string[] | null {
  if (hashes === null || hashes === undefined) return null;
  const unique = [...new Set(hashes.map((hash) => hash.toLowerCase()))].sort();
  if (unique.length === 0 || unique.length > MAX_TRUSTED_DOCUMENTS) {
    throw new BadUserInputError(
      `trustedDocuments must list 1 to ${MAX_TRUSTED_DOCUMENTS} operations`,
      'trustedDocuments',
    );
  }
  if (!unique.every((hash) => DOCUMENT_HASH.test(hash))) {
    throw new BadUserInputError('trustedDocuments must be SHA-256 digests in hex', 'trustedDocuments');
  }
  return unique;
}
