import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import { KeyProviderError } from '@fleet/envelope';
import { actorOf, outboxTablesOf, recordEvent } from '@fleet/outbox';
import {
  BadUserInputError,
  ConflictError,
  ServiceUnavailableError,
  type Principal,
} from '@fleet/service-kit';
import type { AaaDatabase } from '../database/schema.js';
import type { PiiVault } from '../vault/pii-vault.js';

export type TenantRow = Selectable<AaaDatabase['tenant']>;

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,46}[a-z0-9])?$/;
// eslint-disable-next-line no-control-regex -- control characters are what it refuses
export const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** The slug of the platform's own tenant, whose members run the platform. */
export const PLATFORM_SLUG = 'platform';

/**
 * Tenants: the platform's customers, each with its own key in the vault. Events carry ids and
 * tenant names (a customer's business name, not personal data), never PII.
 */
export class TenantDirectory {
  readonly #db: Kysely<AaaDatabase>;
  readonly #vault: PiiVault;
  readonly #onEvent: () => void;

  constructor(db: Kysely<AaaDatabase>, vault: PiiVault, onEvent: () => void) {
    this.#db = db;
    this.#vault = vault;
    this.#onEvent = onEvent;
  }

  async createTenant(
    input: { name: string; slug: string; mfaRequired?: boolean | null },
    principal: Principal,
    kind: 'customer' | 'platform' = 'customer',
  ): Promise<TenantRow> {
    const name = input.name.trim();
    if (name.length < 1 || name.length > 100 || CONTROL.test(name)) {
      throw new BadUserInputError('name must be 1 to 100 printable characters', 'name');
    }
    if (!SLUG.test(input.slug)) {
      throw new BadUserInputError('slug must be 1 to 48 lower-case letters, digits or inner hyphens', 'slug');
    }
    if (kind === 'customer' && input.slug === PLATFORM_SLUG) {
      throw new ConflictError(`The slug "${input.slug}" is taken`, 'slug');
    }
    const id = randomUUID();
    // The key comes first: if the key service is down, nothing is written.
    const key = await keyServiceCall(() => this.#vault.newTenantKey(id));
    const tenant = await this.#db.transaction().execute(async (trx) => {
      const created = await trx
        .insertInto('tenant')
        .values({ id, name, slug: input.slug, kind, mfa_required: input.mfaRequired ?? false })
        .onConflict((oc) => oc.column('slug').doNothing())
        .returningAll()
        .executeTakeFirst();
      if (!created) throw new ConflictError(`The slug "${input.slug}" is taken`, 'slug');
      await this.#vault.storeTenantKey(trx, created.id, key);
      await recordEvent(outboxTablesOf(trx), {
        aggregateType: 'tenant',
        aggregateId: created.id,
        type: 'tenant.created',
        tenantId: created.id,
        actor: actorOf(principal),
        payload: tenantPayload(created),
      });
      return created;
    });
    this.#onEvent();
    return tenant;
  }

  async setMfaRequired(tenantId: string, required: boolean, principal: Principal): Promise<TenantRow> {
    const tenant = await this.#db.transaction().execute(async (trx) => {
      const updated = await trx
        .updateTable('tenant')
        .set({ mfa_required: required })
        .where('id', '=', tenantId)
        .returningAll()
        .executeTakeFirstOrThrow();
      await recordEvent(outboxTablesOf(trx), {
        aggregateType: 'tenant',
        aggregateId: updated.id,
        type: 'tenant.mfa_policy_changed',
        tenantId: updated.id,
        actor: actorOf(principal),
        payload: tenantPayload(updated),
      });
      return updated;
    });
    this.#onEvent();
    return tenant;
  }

  async getTenant(id: string): Promise<TenantRow | undefined> {
    if (!UUID.test(id)) return undefined;
    return this.#db.selectFrom('tenant').selectAll().where('id', '=', id.toLowerCase()).executeTakeFirst();
  }

  async getTenantBySlug(slug: string): Promise<TenantRow | undefined> {
    return this.#db.selectFrom('tenant').selectAll().where('slug', '=', slug).executeTakeFirst();
  }

  async platformTenant(): Promise<TenantRow | undefined> {
    return this.#db.selectFrom('tenant').selectAll().where('kind', '=', 'platform').executeTakeFirst();
  }

  async listTenants(): Promise<TenantRow[]> {
    return this.#db.selectFrom('tenant').selectAll().orderBy('slug').limit(1_000).execute();
  }
}

function tenantPayload(tenant: TenantRow): Record<string, unknown> {
  return {
    id: tenant.id,
    name: tenant.name,
    slug: tenant.slug,
    kind: tenant.kind,
    mfaRequired: tenant.mfa_required,
    createdAt: tenant.created_at.toISOString(),
  };
}

/** Runs a call to the key service, turning its outage into a clear, retryable error. */
export async function keyServiceCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof KeyProviderError && error.kind !== 'invalid-ciphertext') {
      throw new ServiceUnavailableError(
        'The key service is unavailable; nothing was changed. Try again later.',
      );
    }
    throw error;
  }
}
