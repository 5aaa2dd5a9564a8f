import type { KeyObject } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import {
  checkpointSignedBy,
  eventDigest,
  GENESIS_HASH,
  linkProblem,
  tenantTag,
  type Checkpoint,
} from '@fleet/audit-chain';
import type { AuditDatabase } from '../database/schema.js';
import { chainedEventOf, type EventRow } from '../store/event-rows.js';
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

interface JoinedRow {
  position: number;
  tenant_id: string | null;
  previous_hash: string;
  digest: string;
  hash: string;
  body: EventRow | null;
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
  while (position < to) {
    const rows = await page(db, position + 1, Math.min(to, position + pageSize));
    if (rows.length === 0) return broken(position + 1, `position ${position + 1} is missing`);
    for (const row of rows) {
      const expected = { position: position + 1, previousHash };
      let digest: string | undefined;
      if (row.body) {
        if (row.body.position !== row.position)
          return broken(expected.position, 'the event is not at its position');
        digest = eventDigest(chainedEventOf(row.body));
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
      if (row.body) result.events++;
      else result.pruned++;
    }
  }
  if (to === end && to > 0 && (head.position !== to || head.hash !== previousHash)) {
    return broken(to, 'the chain head does not match the last link');
  }
  return result;
}

async function page(db: Kysely<AuditDatabase>, from: number, to: number): Promise<JoinedRow[]> {
  const rows = await db
    .selectFrom('audit_link as l')
    .leftJoin('audit_event as e', 'e.position', 'l.position')
    .select([
      'l.position',
      'l.tenant_id',
      'l.previous_hash',
      'l.digest',
      'l.hash',
      sql<number | null>`e.position`.as('body_position'),
      'e.id',
      'e.source',
      'e.aggregate_type',
      'e.aggregate_id',
      'e.sequence',
      'e.event_type',
      sql<string | null>`e.tenant_id`.as('body_tenant_id'),
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
  return rows.map((row) => ({
    position: row.position,
    tenant_id: row.tenant_id,
    previous_hash: row.previous_hash,
    digest: row.digest,
    hash: row.hash,
    body:
      row.body_position === null
        ? null
        : ({
            position: row.body_position,
            id: row.id,
            source: row.source,
            aggregate_type: row.aggregate_type,
            aggregate_id: row.aggregate_id,
            sequence: row.sequence,
            event_type: row.event_type,
            tenant_id: row.body_tenant_id,
            actor_kind: row.actor_kind,
            actor_id: row.actor_id,
            payload: row.payload,
            occurred_at: row.occurred_at,
            recorded_at: row.recorded_at,
          } as EventRow),
  }));
}
