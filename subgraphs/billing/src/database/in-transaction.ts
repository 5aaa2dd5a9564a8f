import type { Kysely, Transaction } from 'kysely';
import type { BillingDatabase } from './schema.js';

/**
 * Runs `work` in a transaction: a new one, or the one `db` already is. Billing's changes use it
 * so that the same code serves a caller's request on its own and a provider's event, whose
 * changes commit together with the record of the event.
 */
export function inTransaction<T>(
  db: Kysely<BillingDatabase>,
  work: (trx: Transaction<BillingDatabase>) => Promise<T>,
): Promise<T> {
  return db.isTransaction ? work(db as Transaction<BillingDatabase>) : db.transaction().execute(work);
}
