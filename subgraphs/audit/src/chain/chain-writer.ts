import type { Kysely, Transaction } from 'kysely';
import {
  digestWithPayloadText,
  linkHash,
  tenantTag,
  type ChainedEvent,
  type Checkpoint,
} from '@fleet/audit-chain';
import { canonicalJson } from '@fleet/request-signing';
import type { OutboxEvent } from '@fleet/outbox';
import type { AuditDatabase } from '../database/schema.js';
import type { CheckpointSigner } from './checkpoint-signer.js';

export interface AppendResult {
  appended: number;
  /** Events whose id was ingested before: delivery is at least once, ingest exactly once. */
  duplicates: number;
}

export interface ChainWriterOptions {
  /** A checkpoint is signed in the append that takes the chain this many events past the last one. */
  checkpointEveryEvents: number;
  /** The clock of recordedAt and of checkpoints (tests of retention set one in the past). */
  now?: () => Date;
}

/** A producer sent two different events for one place in an entity's history: nothing is appended. */
export class ReusedSequenceError extends Error {}

/** Rows per INSERT: two tables of 6 and 13 columns stay far below PostgreSQL's 65,535 parameters. */
const ROWS_PER_INSERT = 1_000;

/**
 * The only writer of the chain. Each append locks the chain head for its transaction, so
 * batches from any number of producers (and audit replicas) are chained one after another, and
 * positions are handed out in commit order: a reader never sees a gap that fills in later.
 */
export class ChainWriter {
  readonly #db: Kysely<AuditDatabase>;
  readonly #signer: CheckpointSigner;
  readonly #everyEvents: number;
  readonly #now: () => Date;

  constructor(db: Kysely<AuditDatabase>, signer: CheckpointSigner, options: ChainWriterOptions) {
    this.#db = db;
    this.#signer = signer;
    this.#everyEvents = options.checkpointEveryEvents;
    this.#now = options.now ?? (() => new Date());
  }

  /** Appends a batch in its order; each event id is appended once, however often it is delivered. */
  async append(events: readonly OutboxEvent[]): Promise<AppendResult> {
    return this.#db.transaction().execute(async (trx) => {
      const head = await lockHead(trx);
      const fresh = await freshEvents(trx, events);
      refuseReusedSequences(fresh);
      if (fresh.length === 0) return { appended: 0, duplicates: events.length };
      const recordedAt = this.#now().toISOString();
      let { position, hash } = head;
      const links: AuditDatabase['audit_link'][] = [];
      const bodies: StoredEvent[] = [];
      for (const event of fresh) {
        position += 1;
        const chained: ChainedEvent = { ...event, position, recordedAt };
        const payloadText = canonicalJson(event.payload);
        const digest = digestWithPayloadText(chained, payloadText);
        const linked = linkHash(hash, position, tenantTag(event.tenantId), digest);
        links.push({
          position,
          event_id: event.id,
          tenant_id: event.tenantId,
          previous_hash: hash,
          digest,
          hash: linked,
        });
        bodies.push({ ...chained, payloadText });
        hash = linked;
      }
      for (let i = 0; i < links.length; i += ROWS_PER_INSERT) {
        await trx
          .insertInto('audit_link')
          .values(links.slice(i, i + ROWS_PER_INSERT))
          .execute();
      }
      try {
        await insertBodies(trx, bodies);
      } catch (error) {
        if ((error as { code?: unknown }).code === '23505') {
          throw new ReusedSequenceError(
            'An event reuses the sequence of another event already recorded for its entity',
          );
        }
        throw error;
      }
      await trx.updateTable('chain_head').set({ position, hash }).where('id', '=', 1).execute();
      const last = await lastCheckpoint(trx);
      if (position - (last?.position ?? 0) >= this.#everyEvents) {
        await this.#writeCheckpoint(trx, { position, hash }, last);
      }
      return { appended: fresh.length, duplicates: events.length - fresh.length };
    });
  }

  /**
   * Signs a checkpoint of the chain's head, unless the last checkpoint covers it already;
   * returns the checkpoint that covers the head (undefined while the chain is empty).
   */
  async checkpoint(): Promise<Checkpoint | undefined> {
    return this.#db.transaction().execute(async (trx) => {
      const head = await lockHead(trx);
      const last = await lastCheckpoint(trx);
      if (head.position === 0) return undefined;
      if (last && last.position === head.position) return last;
      return this.#writeCheckpoint(trx, head, last);
    });
  }

  async #writeCheckpoint(
    trx: Transaction<AuditDatabase>,
    head: { position: number; hash: string },
    last: Checkpoint | undefined,
  ): Promise<Checkpoint> {
    const checkpoint = this.#signer.sign({
      position: head.position,
      hash: head.hash,
      createdAt: this.#now().toISOString(),
      previousSignature: last?.signature ?? null,
    });
    await trx
      .insertInto('audit_checkpoint')
      .values({
        position: checkpoint.position,
        hash: checkpoint.hash,
        created_at: checkpoint.createdAt,
        previous_signature: checkpoint.previousSignature,
        key_id: checkpoint.keyId,
        signature: checkpoint.signature,
      })
      .execute();
    return checkpoint;
  }
}

async function lockHead(trx: Transaction<AuditDatabase>): Promise<{ position: number; hash: string }> {
  return trx
    .selectFrom('chain_head')
    .select(['position', 'hash'])
    .where('id', '=', 1)
    .forUpdate()
    .executeTakeFirstOrThrow();
}

export async function lastCheckpoint(db: Kysely<AuditDatabase>): Promise<Checkpoint | undefined> {
  const row = await db
    .selectFrom('audit_checkpoint')
    .selectAll()
    .orderBy('position', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row && checkpointOf(row);
}

export function checkpointOf(row: AuditDatabase['audit_checkpoint']): Checkpoint {
  return {
    position: row.position,
    hash: row.hash,
    createdAt: row.created_at,
    previousSignature: row.previous_signature,
    keyId: row.key_id,
    signature: row.signature,
  };
}

/** The batch without events recorded before or repeated within it, in the batch's order. */
async function freshEvents(
  trx: Transaction<AuditDatabase>,
  events: readonly OutboxEvent[],
): Promise<OutboxEvent[]> {
  const ids = [...new Set(events.map((event) => event.id))];
  const seen = new Set<string>();
  for (let i = 0; i < ids.length; i += ROWS_PER_INSERT) {
    const rows = await trx
      .selectFrom('audit_link')
      .select('event_id')
      .where('event_id', 'in', ids.slice(i, i + ROWS_PER_INSERT))
      .execute();
    for (const row of rows) seen.add(row.event_id);
  }
  return events.filter((event) => {
    if (seen.has(event.id)) return false;
    seen.add(event.id);
    return true;
  });
}

/** Two different events of one batch with the same place in their entity's history. */
function refuseReusedSequences(events: readonly OutboxEvent[]): void {
  const places = new Set<string>();
  for (const event of events) {
    const place = JSON.stringify([event.source, event.aggregateType, event.aggregateId, event.sequence]);
    if (places.has(place)) {
      throw new ReusedSequenceError(
        `Two events of the batch are both sequence ${event.sequence} of ${event.aggregateType} ${event.aggregateId}`,
      );
    }
    places.add(place);
  }
}

/** An event about to be stored, with its payload's canonical text. */
type StoredEvent = ChainedEvent & { payloadText: string };

async function insertBodies(trx: Transaction<AuditDatabase>, events: readonly StoredEvent[]): Promise<void> {
  for (let i = 0; i < events.length; i += ROWS_PER_INSERT) {
    await trx
      .insertInto('audit_event')
      .values(
        events.slice(i, i + ROWS_PER_INSERT).map((event) => ({
          position: event.position,
          id: event.id,
          source: event.source,
          aggregate_type: event.aggregateType,
          aggregate_id: event.aggregateId,
          sequence: event.sequence,
          event_type: event.type,
          tenant_id: event.tenantId,
          actor_kind: event.actor.kind,
          actor_id: event.actor.id,
          payload: event.payloadText,
          occurred_at: event.occurredAt,
          recorded_at: event.recordedAt,
        })),
      )
      .execute();
  }
}
