import type { Kysely, Selectable } from 'kysely';
import { outboxTablesOf, recordEvent, type EventActor } from '@fleet/outbox';
import { BadUserInputError } from '@fleet/service-kit';
import type { BillingDatabase } from '../database/schema.js';

export type InvoiceRow = Selectable<BillingDatabase['invoice']>;
export type InvoiceLineRow = Selectable<BillingDatabase['invoice_line']>;
export type InvoiceWithLines = InvoiceRow & { lines: InvoiceLineRow[] };

export const MAX_INVOICES_PER_PAGE = 100;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const PERIOD = /^\d{4}-(0[1-9]|1[0-2])$/;
const CURSOR_PREFIX = 'invoice:';

/** A page's cursor: the period of its last invoice (a tenant has one invoice a period). */
export function invoiceCursor(period: string): string {
  return Buffer.from(CURSOR_PREFIX + period).toString('base64url');
}

function periodOfCursor(cursor: string): string {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const period = text.startsWith(CURSOR_PREFIX) ? text.slice(CURSOR_PREFIX.length) : '';
  if (!PERIOD.test(period)) throw new BadUserInputError('after must be a cursor this list answered', 'after');
  return period;
}

/** Issued invoices and their lines, as they read. */
export class InvoiceStore {
  readonly #db: Kysely<BillingDatabase>;

  constructor(db: Kysely<BillingDatabase>) {
    this.#db = db;
  }

  /** The invoice of an id; undefined for an unknown one or a text that is no id. */
  async get(id: string): Promise<InvoiceWithLines | undefined> {
    if (!UUID.test(id)) return undefined;
    const invoice = await this.#db
      .selectFrom('invoice')
      .selectAll()
      .where('id', '=', id.toLowerCase())
      .executeTakeFirst();
    return invoice && (await this.#withLines([invoice]))[0];
  }

  /** A tenant's invoices, newest period first, `first` of them after the cursor. */
  async page(
    tenantId: string,
    first: number,
    after: string | null | undefined,
  ): Promise<{ invoices: InvoiceWithLines[]; hasNextPage: boolean }> {
    if (!Number.isSafeInteger(first) || first < 1 || first > MAX_INVOICES_PER_PAGE)
      throw new BadUserInputError(`first must be from 1 to ${MAX_INVOICES_PER_PAGE}`, 'first');
    let query = this.#db
      .selectFrom('invoice')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .orderBy('period', 'desc')
      .limit(first + 1);
    if (after) query = query.where('period', '<', periodOfCursor(after));
    const rows = await query.execute();
    return { invoices: await this.#withLines(rows.slice(0, first)), hasNextPage: rows.length > first };
  }

  async #withLines(invoices: InvoiceRow[]): Promise<InvoiceWithLines[]> {
    if (invoices.length === 0) return [];
    const lines = await this.#db
      .selectFrom('invoice_line')
      .selectAll()
      .where(
        'invoice_id',
        'in',
        invoices.map((invoice) => invoice.id),
      )
      .orderBy('invoice_id')
      .orderBy('line_no')
      .execute();
    return invoices.map((invoice) => ({
      ...invoice,
      lines: lines.filter((line) => line.invoice_id === invoice.id),
    }));
  }
}

/**
 * Records an invoice's event in the transaction that changed it: ids, period, currency and
 * total, nothing else.
 */
export function recordInvoiceEvent(
  trx: Kysely<BillingDatabase>,
  invoice: Pick<InvoiceRow, 'id' | 'tenant_id' | 'period' | 'currency' | 'total_minor'>,
  type: 'invoice.issued' | 'invoice.paid' | 'invoice.voided',
  actor: EventActor,
): Promise<string> {
  return recordEvent(outboxTablesOf(trx), {
    aggregateType: 'invoice',
    aggregateId: invoice.id,
    type,
    tenantId: invoice.tenant_id,
    actor,
    payload: {
      id: invoice.id,
      tenantId: invoice.tenant_id,
      period: invoice.period,
      currency: invoice.currency,
      totalMinor: invoice.total_minor,
    },
  });
}
