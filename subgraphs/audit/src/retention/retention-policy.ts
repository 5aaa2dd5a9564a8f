import type { Kysely } from 'kysely';
import type { AuditDatabase } from '../database/schema.js';

/** The key of audit_retention that holds the default: every tenant without its own, and platform events. */
export const DEFAULT_RETENTION_KEY = '*';

export interface Retention {
  /** Days an event is kept after audit recorded it; null keeps it for good. */
  days: number | null;
  /** Whether the tenant has its own retention, or follows the default. */
  own: boolean;
}

/** Per-tenant retention, with a default that the configuration gives and an administrator may change. */
export class RetentionPolicy {
  readonly #db: Kysely<AuditDatabase>;
  readonly #configuredDays: number | null;

  constructor(db: Kysely<AuditDatabase>, configuredDays: number | null) {
    this.#db = db;
    this.#configuredDays = configuredDays;
  }

  async defaultDays(): Promise<number | null> {
    const row = await this.#db
      .selectFrom('audit_retention')
      .select('days')
      .where('tenant_id', '=', DEFAULT_RETENTION_KEY)
      .executeTakeFirst();
    return row?.days ?? this.#configuredDays;
  }

  async of(tenantId: string | null): Promise<Retention> {
    if (tenantId !== null) {
      const row = await this.#db
        .selectFrom('audit_retention')
        .select('days')
        .where('tenant_id', '=', tenantId)
        .executeTakeFirst();
      if (row) return { days: row.days, own: true };
    }
    return { days: await this.defaultDays(), own: false };
  }

  /** Sets a tenant's retention (null: back to the default), or the default itself (tenantId null). */
  async set(tenantId: string | null, days: number | null): Promise<void> {
    const key = tenantId ?? DEFAULT_RETENTION_KEY;
    if (days === null) {
      await this.#db.deleteFrom('audit_retention').where('tenant_id', '=', key).execute();
      return;
    }
    await this.#db
      .insertInto('audit_retention')
      .values({ tenant_id: key, days })
      .onConflict((oc) => oc.column('tenant_id').doUpdateSet({ days, updated_at: new Date().toISOString() }))
      .execute();
  }

  /** Tenants with a retention of their own, and their days. */
  async overrides(): Promise<Map<string, number>> {
    const rows = await this.#db
      .selectFrom('audit_retention')
      .select(['tenant_id', 'days'])
      .where('tenant_id', '!=', DEFAULT_RETENTION_KEY)
      .execute();
    return new Map(rows.map((row) => [row.tenant_id, row.days]));
  }
}
