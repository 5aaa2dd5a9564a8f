import { sql, type Kysely } from 'kysely';
import {
  EXPORT_FORMAT,
  EXPORT_VERSION,
  formatExportLine,
  tenantTag,
  type Checkpoint,
  type ExportLine,
} from '@fleet/audit-chain';
import type { AuditDatabase } from '../database/schema.js';
import { checkpointOf, type ChainWriter } from '../chain/chain-writer.js';
import { chainedEventOf, type EventRow } from '../store/event-rows.js';

export interface ExportRange {
  /** First position wanted; the export starts just after the checkpoint before it. */
  from?: number;
  /** Last position wanted; the export ends at the first checkpoint at or after it. */
  to?: number;
  /** Only this tenant's events; the others' positions appear as links alone. */
  tenantId?: string | null;
}

export interface PlannedExport {
  fromPosition: number;
  toPosition: number;
  anchor: Checkpoint | null;
  end: Checkpoint;
}

/**
 * Where an export of the wanted range starts and ends: on checkpoints, so that it verifies on
 * its own. A range past the last checkpoint gets a fresh one. Undefined while the log is empty.
 */
export async function planExport(
  db: Kysely<AuditDatabase>,
  writer: ChainWriter,
  range: ExportRange,
): Promise<PlannedExport | undefined> {
  const head = await db.selectFrom('chain_head').select('position').executeTakeFirstOrThrow();
  if (head.position === 0) return undefined;
  const wantedTo = Math.min(range.to ?? head.position, head.position);
  const wantedFrom = Math.min(Math.max(1, range.from ?? 1), wantedTo);
  const endRow = await db
    .selectFrom('audit_checkpoint')
    .selectAll()
    .where('position', '>=', wantedTo)
    .orderBy('position')
    .limit(1)
    .executeTakeFirst();
  const end = endRow ? checkpointOf(endRow) : await writer.checkpoint();
  if (!end) return undefined;
  const anchorRow = await db
    .selectFrom('audit_checkpoint')
    .selectAll()
    .where('position', '<', wantedFrom)
    .orderBy('position', 'desc')
    .limit(1)
    .executeTakeFirst();
  const anchor = anchorRow ? checkpointOf(anchorRow) : null;
  return { fromPosition: (anchor?.position ?? 0) + 1, toPosition: end.position, anchor, end };
}

/** The export's lines, NDJSON, read from the database page by page. */
export async function* exportLines(
  db: Kysely<AuditDatabase>,
  plan: PlannedExport,
  tenantId: string | null,
  pageSize = 2_000,
): AsyncGenerator<string> {
  const header: ExportLine = {
    kind: 'header',
    format: EXPORT_FORMAT,
    version: EXPORT_VERSION,
    fromPosition: plan.fromPosition,
    toPosition: plan.toPosition,
    tenantId,
    exportedAt: new Date().toISOString(),
    anchor: plan.anchor,
  };
  yield formatExportLine(header);
  const checkpoints = new Map(
    (
      await db
        .selectFrom('audit_checkpoint')
        .selectAll()
        .where('position', '>=', plan.fromPosition)
        .where('position', '<=', plan.toPosition)
        .execute()
    ).map((row) => [row.position, checkpointOf(row)]),
  );
  for (let from = plan.fromPosition; from <= plan.toPosition; from += pageSize) {
    const to = Math.min(plan.toPosition, from + pageSize - 1);
    const rows = await db
      .selectFrom('audit_link as l')
      .leftJoin('audit_event as e', 'e.position', 'l.position')
      .select([
        'l.position',
        sql<string | null>`l.tenant_id`.as('link_tenant_id'),
        'l.previous_hash',
        'l.digest',
        'l.hash',
        sql<boolean>`e.position is not null`.as('has_body'),
        'e.id',
        'e.source',
        'e.aggregate_type',
        'e.aggregate_id',
        'e.sequence',
        'e.event_type',
        'e.tenant_id',
        'e.actor_kind',
        'e.actor_id',
        'e.payload',
        'e.occurred_at',
        'e.recorded_at',
      ])
      .where('l.position', '>=', from)
      .where('l.position', '<=', to)
      .orderBy('l.position')
      .execute();
    let lines = '';
    for (const row of rows) {
      const ownTenant = tenantId === null || row.link_tenant_id === tenantId;
      if (row.has_body && ownTenant) {
        lines += formatExportLine({
          kind: 'event',
          event: chainedEventOf({ ...row, position: row.position } as EventRow),
          previousHash: row.previous_hash,
          hash: row.hash,
        });
      } else {
        lines += formatExportLine({
          kind: 'link',
          position: row.position,
          tenantTag: tenantTag(row.link_tenant_id),
          previousHash: row.previous_hash,
          digest: row.digest,
          hash: row.hash,
          reason: ownTenant ? 'pruned' : 'other-tenant',
        });
      }
      const checkpoint = checkpoints.get(row.position);
      if (checkpoint) lines += formatExportLine({ kind: 'checkpoint', checkpoint });
    }
    yield lines;
  }
}
