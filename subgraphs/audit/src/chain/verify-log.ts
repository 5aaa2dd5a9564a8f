import type { KeyObject } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import {
  checkpointSignedBy,
  digestWithPayloadText,
  GENESIS_HASH,
  linkProblem,
  tenantTag,
  type Checkpoint,
} from '@fleet/audit-chain';
import type { AuditDatabase } from '../database/schema.js';
import { checkpointOf } from './chain-writer.js';

export interface LogVerification {
  ok: boolean;
  fromPosition: number;
  toPosition: number;
  /** Links checked. */
  checked: number;
  /** Of those, events whose body was checked against its digest... */
  events: number;
  /** ...and events pruned under a retention seal, whose link alone was checked. */
  pruned: number;
  /** Signed checkpoints in the range, each checked against its key and the chain. */
  checkpoints: number;
  /** The first position whose link, event or checkpoint does not hold; null when all hold. */
  firstBrokenPosition: number | null;
  /** What does not hold there. */
  problem: string | null;
}

/** A link with, when it is still stored, its event's body as text: what the digest covers. */
interface JoinedRow {
  position: number;
  tenant_id: string | null;
  previous_hash: string;
  digest: string;
  hash: string;
  body_position: number | null;
  id: string;
  source: string;
  aggregate_type: string;
  aggregate_id: string;
  sequence: number;
  event_type: string;
  body_tenant_id: string | null;
  actor_kind: string;
  actor_id: string | null;
  payload: string;
  occurred_at: string;
  recorded_at: string;
}

/**
 * Recomputes the chain over [from, to] (to defaults to the head): every link against the one
 * before it, every event against its digest, every missing event against a retention seal that
 * covers it, and every checkpoint against its signature, the chain at its position and the
 * checkpoint before it. Stops at the first thing that does not hold and names its position.
 */
export async function verifyAuditLog(
  db: Kysely<AuditDatabase>,
  publicKeys: readonly KeyObject[],
  range: { from?: number; to?: number } = {},
  pageSize = 5_000,
): Promise<LogVerification> {
  const head = await db.selectFrom('chain_head').select(['position', 'hash']).executeTakeFirstOrThrow();
  const last = await db
    .selectFrom('audit_link')
    .select(sql<number>`coalesce(max(position), 0)`.as('position'))
    .executeTakeFirstOrThrow();
  const end = Math.max(head.position, last.position);
  const from = Math.max(1, range.from ?? 1);
  const to = Math.min(range.to ?? end, end);
  const result: LogVerification = {
    ok: true,
    fromPosition: from,
    toPosition: to,
    checked: 0,
    events: 0,
    pruned: 0,
    checkpoints: 0,
    firstBrokenPosition: null,
    problem: null,
  };
  const broken = (position: number, problem: string): LogVerification => ({
    ...result,
    ok: false,
    firstBrokenPosition: position,
    problem,
  });

  let previousHash = GENESIS_HASH;
  if (from > 1) {
    const before = await db
      .selectFrom('audit_link')
      .select('hash')
      .where('position', '=', from - 1)
      .executeTakeFirst();
    if (!before) return broken(from - 1, `position ${from - 1} is missing`);
    previousHash = before.hash;
  }
  const seals = await db
    .selectFrom('audit_seal')
    .select(['tenant_id', 'from_position', 'to_position'])
    .where('to_position', '>=', from)
    .where('from_position', '<=', to)
    .execute();
  const checkpoints = new Map(
    (
      await db
        .selectFrom('audit_checkpoint')
        .selectAll()
        .where('position', '>=', from)
        .where('position', '<=', to)
        .orderBy('position')
        .execute()
    ).map((row) => [row.position, checkpointOf(row)]),
  );
  let lastCheckpoint: Checkpoint | undefined;
  const firstCheckpoint = checkpoints.values().next().value;
  if (firstCheckpoint) {
    const before = await db
      .selectFrom('audit_checkpoint')
      .selectAll()
      .where('position', '<', firstCheckpoint.position)
      .orderBy('position', 'desc')
      .limit(1)
      .executeTakeFirst();
    lastCheckpoint = before && checkpointOf(before);
  }

  let position = from - 1;
  // The next page is read while this one is checked: the database and the hashing overlap.
  const read = (start: number) => {
    const pending = page(db, start, Math.min(to, start + pageSize - 1));
    pending.catch(() => undefined);
    return pending;
  };
  let next = from <= to ? read(from) : undefined;
  for (let start = from; next; start += pageSize) {
    const rows = await next;
    next = start + pageSize <= to ? read(start + pageSize) : undefined;
    if (rows.length === 0) return broken(position + 1, `position ${position + 1} is missing`);
    for (const row of rows) {
      const expected = { position: position + 1, previousHash };
      let digest: string | undefined;
      if (row.body_position !== null) {
        if (row.body_position !== row.position)
          return broken(expected.position, 'the event is not at its position');
        digest = digestWithPayloadText(
          {
            position: row.body_position,
            id: row.id,
            source: row.source,
            aggregateType: row.aggregate_type,
            aggregateId: row.aggregate_id,
            sequence: row.sequence,
            type: row.event_type,
            tenantId: row.body_tenant_id,
            actor: { kind: row.actor_kind, id: row.actor_id },
            occurredAt: row.occurred_at,
            recordedAt: row.recorded_at,
          },
          row.payload,
        );
      } else if (
        !seals.some(
          (seal) =>
            seal.tenant_id === row.tenant_id &&
            seal.from_position <= row.position &&
            row.position <= seal.to_position,
        )
      ) {
        return broken(expected.position, 'the event is missing and no retention seal covers it');
      }
      const problem = linkProblem(
        {
          position: row.position,
          tenantTag: tenantTag(row.tenant_id),
          previousHash: row.previous_hash,
          digest: row.digest,
          hash: row.hash,
        },
        expected,
        digest,
      );
      if (problem) return broken(expected.position, problem);
      const checkpoint = checkpoints.get(row.position);
      if (checkpoint) {
        if (checkpoint.hash !== row.hash)
          return broken(row.position, 'the checkpoint does not match the chain');
        if (checkpoint.previousSignature !== (lastCheckpoint?.signature ?? null))
          return broken(row.position, 'the checkpoint is not chained to the checkpoint before it');
        if (!checkpointSignedBy(checkpoint, publicKeys))
          return broken(row.position, 'the checkpoint is not signed by a published key');
        lastCheckpoint = checkpoint;
        result.checkpoints++;
      }
      position = row.position;
      previousHash = row.hash;
      result.checked++;
      if (row.body_position !== null) result.events++;
      else result.pruned++;
    }
  }
  if (to === end && to > 0 && (head.position !== to || head.hash !== previousHash)) {
    return broken(to, 'the chain head does not match the last link');
  }
  return result;
}

/** ISO 8601 in UTC with milliseconds, as JavaScript writes it (ingest keeps years 1970-9999). */
const ISO = 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"';

async function page(db: Kysely<AuditDatabase>, from: number, to: number): Promise<JoinedRow[]> {
  const { rows } = await sql<JoinedRow>`
    select l.position, l.tenant_id, l.previous_hash, l.digest, l.hash,
           e.position as body_position, e.id, e.source, e.aggregate_type, e.aggregate_id, e.sequence,
           e.event_type, e.tenant_id as body_tenant_id, e.actor_kind, e.actor_id, e.payload,
           to_char(e.occurred_at at time zone 'UTC', ${ISO}) as occurred_at,
           to_char(e.recorded_at at time zone 'UTC', ${ISO}) as recorded_at
    from audit_link l left join audit_event e on e.position = l.position
    where l.position between ${from} and ${to}
    order by l.position`.execute(db);
  return rows;
}
