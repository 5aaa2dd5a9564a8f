import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql, type Kysely, type Transaction } from 'kysely';
import {
  BadUserInputError,
  createLogger,
  openDatabase,
  type Database,
  type Engine,
} from '@fleet/service-kit';
import { migrations } from '../../subgraphs/billing/src/database/migrations.js';
import type { BillingDatabase } from '../../subgraphs/billing/src/database/schema.js';
import type { EffectOutcome, PaymentEffects } from '../../subgraphs/billing/src/payments/payment-effects.js';
import { createServiceDatabases } from './postgres.js';

/** A fresh billing database on the engine: on PostgreSQL, its own database and role. */
export async function openBillingTestDatabase(
  engine: Engine,
): Promise<{ database: Database<BillingDatabase>; url: string | undefined; close: () => Promise<void> }> {
  const logger = createLogger({ service: 'test', level: 'silent' });
  const dir = await mkdtemp(join(tmpdir(), 'billing-payments-'));
  let drop = (): Promise<void> => Promise.resolve();
  let url: string | undefined;
  if (engine === 'postgres') {
    const created = await createServiceDatabases(['billing']);
    drop = created.drop;
    url = created.databases.billing.url;
  }
  const database = await openDatabase<BillingDatabase>({ url, dataDir: dir, migrations, logger });
  return {
    database,
    url,
    close: async () => {
      await database.close();
      await drop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A call made into billing, as the effects below saw it. */
export interface EffectCall {
  name: keyof PaymentEffects;
  change: object;
  outcome: EffectOutcome;
}

/**
 * PaymentEffects on billing's own `subscription` table, and on a `test_invoice` table of the
 * test's made in `db` (billing's invoices are not part of this database yet), each change made
 * with the transaction given, as billing's code must. `fail` makes the next call throw: a refusal
 * (BadUserInputError) or a fault (Error).
 */
export async function tableEffects(db?: Kysely<BillingDatabase>): Promise<
  PaymentEffects & {
    calls: EffectCall[];
    fail(kind: 'refusal' | 'fault', on: keyof PaymentEffects): void;
    addInvoice(id: string, tenantId: string): Promise<void>;
    invoice(id: string): Promise<{ status: string; provider_invoice_id: string | null } | undefined>;
  }
> {
  const invoices = db;
  if (invoices) {
    await sql`
    create table if not exists test_invoice (
      id text primary key,
      tenant_id uuid not null,
      status text not null,
      provider_invoice_id text,
      paid_at timestamptz
    )`.execute(invoices);
  }
  const calls: EffectCall[] = [];
  let failing: { kind: 'refusal' | 'fault'; on: keyof PaymentEffects } | undefined;
  const made = async (
    name: keyof PaymentEffects,
    change: object,
    run: () => Promise<boolean>,
  ): Promise<EffectOutcome> => {
    if (failing?.on === name) {
      const { kind } = failing;
      failing = undefined;
      if (kind === 'refusal') throw new BadUserInputError('Billing refuses this change', 'planId');
      throw new Error('the database went away');
    }
    const outcome: EffectOutcome = (await run()) ? 'applied' : 'ignored';
    calls.push({ name, change, outcome });
    return outcome;
  };
  const rowOf = (trx: Transaction<BillingDatabase>, tenantId: string) =>
    trx
      .selectFrom('subscription')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .forUpdate()
      .executeTakeFirst();
  return {
    calls,
    fail(kind, on) {
      failing = { kind, on };
    },
    async addInvoice(id, tenantId) {
      if (!invoices) throw new Error('These effects were made without a database for invoices');
      await sql`insert into test_invoice (id, tenant_id, status) values (${id}, ${tenantId}, 'open')`.execute(
        db,
      );
    },
    async invoice(id) {
      if (!invoices) throw new Error('These effects were made without a database for invoices');
      const { rows } = await sql<{ status: string; provider_invoice_id: string | null }>`
        select status, provider_invoice_id from test_invoice where id = ${id}`.execute(invoices);
      return rows[0];
    },
    attachProvider: (trx, change) =>
      made('attachProvider', change, async () => {
        const row = await rowOf(trx, change.tenantId);
        if (!row) {
          await trx
            .insertInto('subscription')
            .values({
              tenant_id: change.tenantId,
              plan_id: 'free',
              status: 'active',
              trial_ends_at: null,
              past_due_since: null,
              canceled_at: null,
              provider: change.provider,
              provider_customer_id: change.customerId,
              provider_subscription_id: change.subscriptionId,
            })
            .execute();
          return true;
        }
        if (
          row.provider_customer_id === change.customerId &&
          row.provider_subscription_id === change.subscriptionId
        ) {
          return false;
        }
        await trx
          .updateTable('subscription')
          .set({
            provider: change.provider,
            provider_customer_id: change.customerId,
            provider_subscription_id: change.subscriptionId,
            updated_at: new Date(),
          })
          .where('tenant_id', '=', change.tenantId)
          .execute();
        return true;
      }),
    changePlan: (trx, change) =>
      made('changePlan', change, async () => {
        const plan = await trx
          .selectFrom('plan')
          .select('id')
          .where('id', '=', change.planId)
          .executeTakeFirst();
        if (!plan) throw new BadUserInputError(`There is no plan "${change.planId}"`, 'planId');
        const row = await rowOf(trx, change.tenantId);
        if (!row || row.plan_id === change.planId) return false;
        await trx
          .updateTable('subscription')
          .set({ plan_id: change.planId, updated_at: new Date() })
          .where('tenant_id', '=', change.tenantId)
          .execute();
        return true;
      }),
    setStatus: (trx, change) =>
      made('setStatus', change, async () => {
        const row = await rowOf(trx, change.tenantId);
        if (!row || row.provider_subscription_id !== change.subscriptionId) return false;
        if (row.status === change.status && String(row.trial_ends_at) === String(change.trialEndsAt))
          return false;
        await trx
          .updateTable('subscription')
          .set({
            status: change.status,
            trial_ends_at: change.trialEndsAt,
            canceled_at: change.status === 'canceled' ? new Date() : null,
            updated_at: new Date(),
          })
          .where('tenant_id', '=', change.tenantId)
          .execute();
        return true;
      }),
    markInvoicePaid: (trx, change) =>
      made('markInvoicePaid', change, async () => {
        const result = await sql`
          update test_invoice set status = 'paid', provider_invoice_id = ${change.providerInvoiceId},
            paid_at = ${change.paidAt}
          where id = ${change.invoiceId} and tenant_id = ${change.tenantId} and status <> 'paid'`.execute(
          trx,
        );
        return Number(result.numAffectedRows ?? 0) > 0;
      }),
  };
}
