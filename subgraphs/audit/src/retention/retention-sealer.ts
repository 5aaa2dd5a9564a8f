import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { sql, type Kysely } from 'kysely';
import type { Logger } from '@fleet/service-kit';
import type { ChainWriter } from '../chain/chain-writer.js';
import type { AuditDatabase } from '../database/schema.js';
import { exportLines, planExport } from '../export/export-log.js';
import type { RetentionPolicy } from './retention-policy.js';

export interface Seal {
  id: string;
  tenantId: string | null;
  recordedBefore: string;
  fromPosition: number;
  toPosition: number;
  events: number;
  exportFile: string;
  exportSha256: string;
  checkpointPosition: number;
}

export interface RetentionSealerOptions {
  /** Where seal exports are written (mode 0600); keep them, and copy them to cold storage. */
  sealDir: string;
  /** Most events one seal prunes; a tenant with more is sealed again in the same run. */
  maxEventsPerSeal: number;
  logger: Logger;
  now?: () => Date;
}

const DAY_MS = 86_400_000;

/**
 * Enforces retention, never silently: a tenant's events older than its retention are first
 * exported (a verifiable export, ending on a signed checkpoint) to a file of the seal directory,
 * then a seal naming that file and its SHA-256 is recorded, and only then are those events'
 * bodies pruned, in the seal's own transaction (the store's trigger refuses any deletion no seal
 * covers). Their links stay, so the chain still verifies, and the seal itself becomes an event.
 */
export class RetentionSealer {
  readonly #db: Kysely<AuditDatabase>;
  readonly #writer: ChainWriter;
  readonly #policy: RetentionPolicy;
  readonly #options: RetentionSealerOptions;
  readonly #now: () => Date;

  constructor(
    db: Kysely<AuditDatabase>,
    writer: ChainWriter,
    policy: RetentionPolicy,
    options: RetentionSealerOptions,
  ) {
    this.#db = db;
    this.#writer = writer;
    this.#policy = policy;
    this.#options = options;
    this.#now = options.now ?? (() => new Date());
  }

  /** Seals and prunes whatever is past its retention now; returns the seals made. */
  async enforce(): Promise<Seal[]> {
    const now = this.#now().getTime();
    const due: { tenantId: string | null; cutoff: Date }[] = [];
    const overrides = await this.#policy.overrides();
    for (const [tenantId, days] of overrides) due.push({ tenantId, cutoff: new Date(now - days * DAY_MS) });
    const defaultDays = await this.#policy.defaultDays();
    if (defaultDays !== null) {
      const cutoff = new Date(now - defaultDays * DAY_MS);
      const rows = await this.#db
        .selectFrom('audit_event')
        .select('tenant_id')
        .distinct()
        .where('recorded_at', '<', cutoff)
        .execute();
      for (const { tenant_id } of rows)
        if (tenant_id === null || !overrides.has(tenant_id)) due.push({ tenantId: tenant_id, cutoff });
    }
    const seals: Seal[] = [];
    for (const { tenantId, cutoff } of due) {
      for (;;) {
        const seal = await this.sealBefore(tenantId, cutoff);
        if (!seal) break;
        seals.push(seal);
        if (seal.events < this.#options.maxEventsPerSeal) break;
      }
    }
    return seals;
  }

  /** Seals and prunes a tenant's (or, for null, the platform's) events recorded before the cutoff. */
  async sealBefore(tenantId: string | null, cutoff: Date): Promise<Seal | undefined> {
    const oldest = this.#db
      .selectFrom('audit_event')
      .select('position')
      .where(sql<boolean>`tenant_id is not distinct from ${tenantId}`)
      .where('recorded_at', '<', cutoff)
      .orderBy('position')
      .limit(this.#options.maxEventsPerSeal)
      .as('oldest');
    const range = await this.#db
      .selectFrom(oldest)
      .select([
        sql<number | null>`min(position)`.as('from'),
        sql<number | null>`max(position)`.as('to'),
        sql<number>`count(*)::int`.as('events'),
      ])
      .executeTakeFirstOrThrow();
    if (range.from === null || range.to === null || range.events === 0) return undefined;
    const plan = await planExport(this.#db, this.#writer, { from: range.from, to: range.to });
    if (!plan) return undefined;

    const id = randomUUID();
    const name = `${cutoff.toISOString().slice(0, 10)}-${tenantId ?? 'platform'}-${range.from}-${range.to}-${id}.ndjson`;
    const exportFile = join(this.#options.sealDir, name);
    const exportSha256 = await this.#writeExport(exportFile, exportLines(this.#db, plan, tenantId));

    const seal: Seal = {
      id,
      tenantId,
      recordedBefore: cutoff.toISOString(),
      fromPosition: range.from,
      toPosition: range.to,
      events: range.events,
      exportFile: name,
      exportSha256,
      checkpointPosition: plan.toPosition,
    };
    await this.#db.transaction().execute(async (trx) => {
      await trx
        .insertInto('audit_seal')
        .values({
          id,
          tenant_id: tenantId,
          recorded_before: seal.recordedBefore,
          from_position: seal.fromPosition,
          to_position: seal.toPosition,
          events: seal.events,
          export_file: name,
          export_sha256: exportSha256,
          checkpoint_position: seal.checkpointPosition,
        })
        .execute();
      const pruned = await trx
        .deleteFrom('audit_event')
        .where(sql<boolean>`tenant_id is not distinct from ${tenantId}`)
        .where('recorded_at', '<', cutoff)
        .where('position', '>=', seal.fromPosition)
        .where('position', '<=', seal.toPosition)
        .executeTakeFirst();
      // The export holds exactly what is pruned: anything else means the log moved under us.
      if (Number(pruned.numDeletedRows) !== seal.events)
        throw new Error(`the seal covers ${seal.events} events but ${pruned.numDeletedRows} matched`);
    });
    await this.#writer.append([
      {
        id: randomUUID(),
        source: 'audit',
        aggregateType: 'audit-seal',
        aggregateId: id,
        sequence: 1,
        type: 'audit.sealed',
        tenantId,
        actor: { kind: 'system', id: null },
        occurredAt: this.#now().toISOString(),
        payload: { ...seal },
      },
    ]);
    this.#options.logger.info(
      {
        sealId: id,
        tenantId,
        events: seal.events,
        fromPosition: seal.fromPosition,
        toPosition: seal.toPosition,
      },
      'audit events past their retention sealed and pruned',
    );
    return seal;
  }

  /** Writes the export durably (temporary file, fsync, rename) and returns its SHA-256. */
  async #writeExport(path: string, lines: AsyncIterable<string>): Promise<string> {
    mkdirSync(this.#options.sealDir, { recursive: true, mode: 0o700 });
    const temporary = `${path}.partial`;
    const hash = createHash('sha256');
    const file = await open(temporary, 'wx', 0o600);
    try {
      for await (const text of lines) {
        hash.update(text);
        await file.write(text);
      }
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temporary, path);
    return hash.digest('hex');
  }
}
