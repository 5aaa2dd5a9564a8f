import { setTimeout as sleep } from 'node:timers/promises';
import { sql, type Kysely } from 'kysely';
import { signedPost, type Logger, type MutualTls, type ProducerConfig } from '@fleet/service-kit';
import { eventFromRow, type EventRow, type IngestBody } from './event.js';
import { outboxTablesOf, type OutboxTables } from './outbox-schema.js';

export interface OutboxRelayOptions {
  /** The service's database, seen as its outbox tables (`outboxTablesOf`). */
  db: Kysely<OutboxTables>;
  /** The service whose outbox this is; audit accepts its events under this name only. */
  source: string;
  /** Base URL of the audit service. */
  auditUrl: string;
  /** The key of this service/audit pair. */
  key: Buffer;
  logger: Logger;
  /** Mutual TLS of the caller; undefined only where it was turned off. */
  tls: MutualTls | undefined;
  batchSize?: number;
  /** How often the outbox is looked at when nothing wakes the relay. */
  pollIntervalMs?: number;
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** How long a claimed batch stays reserved to this relay, should it die while shipping. */
  claimMs?: number;
}

/**
 * Ships the outbox to audit's ingest endpoint, oldest first, in batches. Delivery is at least
 * once: a batch leaves the outbox only after audit has accepted it, and audit ingests each event
 * id once. While audit is unreachable the relay retries with exponential backoff and jitter, and
 * nothing is lost. Several replicas may run side by side: each claims its own rows.
 */
export class OutboxRelay {
  readonly #options: Required<OutboxRelayOptions>;
  #running: Promise<void> | undefined;
  #stopped = false;
  #failures = 0;
  #wake: AbortController = new AbortController();

  constructor(options: OutboxRelayOptions) {
    this.#options = {
      batchSize: 100,
      pollIntervalMs: 1_000,
      minBackoffMs: 200,
      maxBackoffMs: 30_000,
      claimMs: 30_000,
      ...options,
    };
  }

  start(): void {
    this.#running ??= this.#run();
  }

  /** Ships soon: call after committing an event. Ignored while backing off from a failure. */
  notify(): void {
    if (this.#failures === 0) this.#wake.abort();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wake.abort();
    await this.#running;
  }

  async #run(): Promise<void> {
    const { batchSize, pollIntervalMs, logger } = this.#options;
    while (!this.#stopped) {
      let shipped = 0;
      try {
        shipped = await this.shipBatch();
        if (this.#failures > 0)
          logger.info({ attempts: this.#failures }, 'audit reachable again; shipping events');
        this.#failures = 0;
      } catch (error) {
        this.#failures++;
        const level = this.#failures === 1 ? 'warn' : 'debug';
        logger[level]({ err: error, attempt: this.#failures }, 'could not ship events to audit; will retry');
      }
      if (shipped === batchSize && this.#failures === 0) continue;
      await this.#pause(this.#failures > 0 ? this.#backoff() : pollIntervalMs);
    }
  }

  /** Ships one batch; returns how many events left the outbox. */
  async shipBatch(): Promise<number> {
    const { db, batchSize, claimMs } = this.#options;
    const claimed = await sql<ClaimedRow>`
      update outbox set claimed_until = now() + ${`${claimMs} milliseconds`}::interval
      where id in (
        select id from outbox
        where claimed_until is null or claimed_until < now()
        order by position
        limit ${batchSize}
        for update skip locked
      )
      returning id, position, aggregate_type, aggregate_id, sequence, event_type, tenant_id,
                actor, payload, occurred_at`.execute(db);
    const rows = claimed.rows.sort((a, b) => a.position - b.position);
    if (rows.length === 0) return 0;
    const ids = rows.map((row) => row.id);
    try {
      await this.#send({ events: rows.map((row) => eventFromRow(this.#options.source, row)) });
    } catch (error) {
      await db.updateTable('outbox').set({ claimed_until: null }).where('id', 'in', ids).execute();
      throw error;
    }
    await db.deleteFrom('outbox').where('id', 'in', ids).execute();
    return rows.length;
  }

  async #send(body: IngestBody): Promise<void> {
    const { source, auditUrl, key } = this.#options;
    const response = await signedPost({
      caller: source,
      audience: 'audit',
      key,
      baseUrl: auditUrl,
      path: '/ingest',
      body: JSON.stringify(body),
      tls: this.#options.tls,
    });
    await response.body?.cancel();
    if (!response.ok) throw new Error(`audit answered ${response.status}`);
  }

  #backoff(): number {
    const { minBackoffMs, maxBackoffMs } = this.#options;
    const ceiling = Math.min(maxBackoffMs, minBackoffMs * 2 ** Math.min(this.#failures - 1, 20));
    // Full jitter keeps many relays from retrying in step.
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }

  async #pause(ms: number): Promise<void> {
    if (this.#stopped) return;
    this.#wake = new AbortController();
    try {
      await sleep(ms, undefined, { signal: this.#wake.signal });
    } catch {
      // Woken early.
    }
  }
}

interface ClaimedRow extends EventRow {
  position: number;
}

/** The relay of a producing service, set up from its configuration. */
export function createOutboxRelay(
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any database holding the outbox tables
  db: Kysely<any>,
  source: string,
  config: ProducerConfig,
  logger: Logger,
  tls: MutualTls | undefined,
): OutboxRelay {
  return new OutboxRelay({
    db: outboxTablesOf(db),
    source,
    auditUrl: config.AUDIT_URL,
    key: config.KEY_AUDIT,
    logger: logger.child({ component: 'outbox' }),
    maxBackoffMs: config.OUTBOX_MAX_BACKOFF_MS,
    tls,
  });
}
