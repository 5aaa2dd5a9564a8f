import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { createLogger, openDatabase, type Engine } from '@fleet/service-kit';
import { createServiceDatabases, postgresSuiteEnabled } from '../../../../test/support/postgres.js';
import { migrations } from './migrations.js';
import type { BillingDatabase } from './schema.js';

/** A database of the first version, with tenants on plans, migrated to subscriptions and segments. */

const engines: { engine: Engine; enabled: boolean }[] = [
  { engine: 'pglite', enabled: true },
  { engine: 'postgres', enabled: await postgresSuiteEnabled() },
];
const logger = createLogger({ service: 'test', level: 'silent' });

describe.each(engines)('billing migrations on $engine', ({ engine, enabled }) => {
  it.skipIf(!enabled)(
    "carries every tenant's plan over into a subscription and its open segment",
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'billing-migrations-'));
      const created = engine === 'postgres' ? await createServiceDatabases(['billing']) : undefined;
      const url = created?.databases.billing.url;
      const tenant = randomUUID();
      const since = new Date('2026-05-17T08:00:00Z');
      try {
        // The migrations before 0002 only, whatever comes after it.
        const first = Object.fromEntries(Object.entries(migrations).filter(([name]) => name < '0002'));
        const old = await openDatabase({ url, dataDir: dir, migrations: first, logger });
        await sql`insert into tenant_plan (tenant_id, plan_id, changed_at) values (${tenant}, 'pro', ${since})`.execute(
          old.db,
        );
        await old.close();

        const current = await openDatabase<BillingDatabase>({ url, dataDir: dir, migrations, logger });
        try {
          expect(
            await current.db
              .selectFrom('subscription')
              .select(['tenant_id', 'plan_id', 'status', 'started_at'])
              .execute(),
          ).toEqual([{ tenant_id: tenant, plan_id: 'pro', status: 'active', started_at: since }]);
          expect(await current.db.selectFrom('plan_segment').selectAll().execute()).toEqual([
            {
              tenant_id: tenant,
              starts_at: since,
              ends_at: null,
              plan_id: 'pro',
              billable: true,
              price_minor: 4900,
              device_day_price_minor: 5,
              currency: 'EUR',
            },
          ]);
        } finally {
          await current.close();
        }
      } finally {
        await created?.drop();
        await rm(dir, { recursive: true, force: true });
      }
    },
  );
});
