import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import { actorOf, outboxTablesOf, recordEvent } from '@fleet/outbox';
import { BadUserInputError, ConflictError, NotFoundError, type Principal } from '@fleet/service-kit';
import type { AaaDatabase } from '../database/schema.js';

export type TenantRow = Selectable<AaaDatabase['tenant']>;
export type UserRow = Selectable<AaaDatabase['app_user']>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,46}[a-z0-9])?$/;
// eslint-disable-next-line no-control-regex -- control characters are what it refuses
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** Tenants and the users that belong to them. Events carry ids and tenant names, never PII. */
export class TenantDirectory {
  readonly #db: Kysely<AaaDatabase>;
  readonly #onEvent: () => void;

  constructor(db: Kysely<AaaDatabase>, onEvent: () => void) {
    this.#db = db;
    this.#onEvent = onEvent;
  }

  async createTenant(input: { name: string; slug: string }, principal: Principal): Promise<TenantRow> {
    const name = input.name.trim();
    if (name.length < 1 || name.length > 100 || CONTROL.test(name)) {
      throw new BadUserInputError('name must be 1 to 100 printable characters', 'name');
    }
    if (!SLUG.test(input.slug)) {
      throw new BadUserInputError('slug must be 1 to 48 lower-case letters, digits or inner hyphens', 'slug');
    }
    const tenant = await this.#db.transaction().execute(async (trx) => {
      const created = await trx
        .insertInto('tenant')
        .values({ id: randomUUID(), name, slug: input.slug })
        .onConflict((oc) => oc.column('slug').doNothing())
        .returningAll()
        .executeTakeFirst();
      if (!created) throw new ConflictError(`The slug "${input.slug}" is taken`, 'slug');
      await recordEvent(outboxTablesOf(trx), {
        aggregateType: 'tenant',
        aggregateId: created.id,
        type: 'tenant.created',
        tenantId: created.id,
        actor: actorOf(principal),
        payload: {
          id: created.id,
          name: created.name,
          slug: created.slug,
          createdAt: created.created_at.toISOString(),
        },
      });
      return created;
    });
    this.#onEvent();
    return tenant;
  }

  async createUser(tenantId: string, principal: Principal): Promise<UserRow> {
    if (!(await this.getTenant(tenantId))) throw new NotFoundError('Tenant');
    const user = await this.#db.transaction().execute(async (trx) => {
      const created = await trx
        .insertInto('app_user')
        .values({ id: randomUUID(), tenant_id: tenantId.toLowerCase() })
        .returningAll()
        .executeTakeFirstOrThrow();
      await recordEvent(outboxTablesOf(trx), {
        aggregateType: 'user',
        aggregateId: created.id,
        type: 'user.created',
        tenantId: created.tenant_id,
        actor: actorOf(principal),
        payload: { id: created.id, tenantId: created.tenant_id, createdAt: created.created_at.toISOString() },
      });
      return created;
    });
    this.#onEvent();
    return user;
  }

  async getTenant(id: string): Promise<TenantRow | undefined> {
    if (!UUID.test(id)) return undefined;
    return this.#db.selectFrom('tenant').selectAll().where('id', '=', id.toLowerCase()).executeTakeFirst();
  }

  async listTenants(): Promise<TenantRow[]> {
    return this.#db.selectFrom('tenant').selectAll().orderBy('slug').limit(1_000).execute();
  }

  async getUser(id: string): Promise<UserRow | undefined> {
    if (!UUID.test(id)) return undefined;
    return this.#db.selectFrom('app_user').selectAll().where('id', '=', id.toLowerCase()).executeTakeFirst();
  }

  async listUsers(tenantId: string): Promise<UserRow[]> {
    return this.#db
      .selectFrom('app_user')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .orderBy('created_at')
      .execute();
  }
}
