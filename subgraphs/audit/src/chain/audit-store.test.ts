import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { checkpointSignedBy, eventDigest, linkHash, tenantTag } from '@fleet/audit-chain';
import type { Engine } from '@fleet/service-kit';
import {
  deviceEvent,
  openAuditTestDatabase,
  type AuditTestDatabase,
} from '../../../../test/support/audit-database.js';
import { postgresSuiteEnabled } from '../../../../test/support/postgres.js';
import { chainedEventOf } from '../store/event-rows.js';
import { lastCheckpoint, ReusedSequenceError } from './chain-writer.js';
import { verifyAuditLog } from './verify-log.js';

const engines: { engine: Engine; enabled: boolean }[] = [
  { engine: 'pglite', enabled: true },
  { engine: 'postgres', enabled: await postgresSuiteEnabled() },
];

const event = deviceEvent;

const events = (count: number) => Array.from({ length: count }, () => event());

/**
 * The store on both engines: an append-only hash chain with signed checkpoints. Tampering is
 * done the way an intruder would, straight in the database with the triggers off, and
 * verification must name the first position that no longer holds.
 */
describe.each(engines)('the audit store on $engine', ({ engine, enabled }) => {
  let store: AuditTestDatabase;
  const verify = (range?: { from?: number; to?: number }) =>
    verifyAuditLog(store.database.db, store.signer.publicKeys, range, 7);

  beforeAll(async () => {
    if (enabled) store = await openAuditTestDatabase(engine);
  });
  beforeEach(async () => {
    if (enabled) await store.reset();
  });
  afterAll(async () => {
    if (enabled) await store.close();
  });

  it.runIf(enabled)(
    'appends each event once, in the batch order, linking each to the one before',
    async () => {
      const writer = store.writer();
      const batch = events(3);
      expect(await writer.append(batch)).toEqual({ appended: 3, duplicates: 0 });
      expect(await writer.append([batch[1]!, event(), batch[1]!])).toEqual({ appended: 1, duplicates: 2 });
      const rows = await store.database.db
        .selectFrom('audit_link as l')
        .innerJoin('audit_event as e', 'e.position', 'l.position')
        .selectAll('e')
        .select(['l.previous_hash', 'l.digest', 'l.hash'])
        .orderBy('l.position')
        .execute();
      expect(rows.map((row) => row.position)).toEqual([1, 2, 3, 4]);
      expect(rows.slice(0, 3).map((row) => row.id)).toEqual(batch.map((e) => e.id));
      for (const [index, row] of rows.entries()) {
        expect(row.previous_hash).toBe(index === 0 ? '0'.repeat(64) : rows[index - 1]!.hash);
        expect(row.digest).toBe(eventDigest(chainedEventOf(row)));
        expect(row.hash).toBe(
          linkHash(row.previous_hash, row.position, tenantTag(row.tenant_id), row.digest),
        );
      }
      expect(await verify()).toMatchObject({ ok: true, checked: 4, events: 4, firstBrokenPosition: null });
    },
  );

  it.runIf(enabled)(
    'refuses a batch that reuses a place in an entity history, appending none of it',
    async () => {
      const writer = store.writer();
      const first = event();
      await writer.append([first]);
      const reuse = event({ aggregateId: first.aggregateId, sequence: 1 });
      await expect(writer.append([event(), reuse])).rejects.toBeInstanceOf(ReusedSequenceError);
      const twice = event();
      await expect(
        writer.append([twice, { ...event(), aggregateId: twice.aggregateId }]),
      ).rejects.toBeInstanceOf(ReusedSequenceError);
      expect(
        (await store.database.db.selectFrom('chain_head').select('position').executeTakeFirstOrThrow())
          .position,
      ).toBe(1);
      expect(await verify()).toMatchObject({ ok: true, checked: 1 });
    },
  );

  it.runIf(enabled)(
    'keeps an entity history by its sequence, whatever order the events arrive in',
    async () => {
      const writer = store.writer();
      const aggregateId = randomUUID();
      await writer.append([event({ aggregateId, sequence: 3, type: 'device.updated' })]);
      await writer.append([
        event({ aggregateId, sequence: 1 }),
        event({ aggregateId, sequence: 2, type: 'device.updated' }),
      ]);
      const history = await store.database.db
        .selectFrom('audit_event')
        .select(['sequence', 'position'])
        .where('aggregate_id', '=', aggregateId)
        .orderBy('sequence')
        .execute();
      expect(history).toEqual([
        { sequence: 1, position: 2 },
        { sequence: 2, position: 3 },
        { sequence: 3, position: 1 },
      ]);
    },
  );

  it.runIf(enabled)(
    'signs a checkpoint every N events and on demand, each chained to the one before',
    async () => {
      const writer = store.writer({ checkpointEveryEvents: 3 });
      await writer.append(events(2));
      expect(await lastCheckpoint(store.database.db)).toBeUndefined();
      await writer.append(events(2));
      const first = await lastCheckpoint(store.database.db);
      expect(first).toMatchObject({ position: 4, previousSignature: null, keyId: store.signer.keyId });
      await writer.append(events(1));
      const onDemand = await writer.checkpoint();
      expect(onDemand).toMatchObject({ position: 5, previousSignature: first!.signature });
      expect(await writer.checkpoint()).toEqual(onDemand);
      expect(checkpointSignedBy(onDemand!, store.signer.publicKeys)).toBe(true);
      expect(await verify()).toMatchObject({ ok: true, checked: 5, checkpoints: 2 });
    },
  );

  it.runIf(enabled)('verifies a range from its first position on', async () => {
    const writer = store.writer({ checkpointEveryEvents: 4 });
    for (let i = 0; i < 10; i++) await writer.append(events(2));
    expect(await verify({ from: 6, to: 15 })).toMatchObject({
      ok: true,
      fromPosition: 6,
      toPosition: 15,
      checked: 10,
      checkpoints: 2,
    });
  });

  it.runIf(enabled)('refuses UPDATE, DELETE and TRUNCATE of the store, to its own role as well', async () => {
    const writer = store.writer({ checkpointEveryEvents: 1 });
    await writer.append(events(2));
    const db = store.database.db;
    // PGlite's user is a superuser: the triggers stop it. PostgreSQL's service role has not even
    // the privilege, but for deleting events, which it may do only under a retention seal.
    const refusedBy = engine === 'postgres' ? /permission denied/ : /append-only/;
    const attempts: [ReturnType<typeof sql>, RegExp][] = [
      [sql`update audit_event set payload = '{}' where position = 1`, refusedBy],
      [sql`delete from audit_event where position = 1`, /not covered by a retention seal/],
      [sql`update audit_link set hash = 'x' where position = 1`, refusedBy],
      [sql`delete from audit_link where position = 2`, refusedBy],
      [sql`update audit_checkpoint set signature = 'x'`, refusedBy],
      [sql`delete from audit_checkpoint`, refusedBy],
      [sql`truncate audit_event cascade`, refusedBy],
      [sql`truncate audit_link cascade`, refusedBy],
    ];
    for (const [attempt, refusal] of attempts) await expect(attempt.execute(db)).rejects.toThrow(refusal);
    expect(await verify()).toMatchObject({ ok: true, checked: 2, events: 2 });
    if (engine === 'postgres') {
      const { rows } = await sql<{ update: boolean; delete: boolean; insert: boolean }>`
        select has_table_privilege(current_user, 'audit_link', 'UPDATE') as update,
               has_table_privilege(current_user, 'audit_link', 'DELETE') as delete,
               has_table_privilege(current_user, 'audit_link', 'INSERT') as insert`.execute(db);
      expect(rows[0]).toEqual({ update: false, delete: false, insert: true });
    }
  });

  describe('tampering, straight in the database', () => {
    beforeEach(async () => {
      if (!enabled) return;
      // Checkpoints at 5 and 10.
      const writer = store.writer({ checkpointEveryEvents: 5 });
      for (let i = 0; i < 12; i++) await writer.append(events(1));
      expect(await verify()).toMatchObject({ ok: true, checked: 12 });
    });

    const cases: [string, string[], number, RegExp][] = [
      [
        'an altered payload',
        [`update audit_event set payload = '{"name":"evil"}' where position = 7`],
        7,
        /digest/,
      ],
      [
        'an altered actor',
        [`update audit_event set actor_id = 'someone-else' where position = 3`],
        3,
        /digest/,
      ],
      [
        'an event moved to another tenant',
        [`update audit_event set tenant_id = 'other' where position = 9`],
        9,
        /digest/,
      ],
      ['an altered link', [`update audit_link set hash = repeat('a', 64) where position = 4`], 4, /hash/],
      ['a deleted event', [`delete from audit_event where position = 8`], 8, /no retention seal/],
      [
        'a deleted link and event',
        ['delete from audit_event where position = 6', 'delete from audit_link where position = 6'],
        6,
        /missing/,
      ],
      [
        'a forged checkpoint',
        [`update audit_checkpoint set signature = 'AAAA' where position = 10`],
        10,
        /signed/,
      ],
      ['a removed checkpoint', ['delete from audit_checkpoint where position = 5'], 10, /chained/],
      ['a chain head moved back', ['update chain_head set position = 11'], 12, /head/],
    ];

    it.runIf(enabled).each(cases)('finds %s', async (_name, statements, position, problem) => {
      await store.tamper(...statements);
      const result = await verify();
      expect(result).toMatchObject({ ok: false, firstBrokenPosition: position });
      expect(result.problem).toMatch(problem);
    });

    it.runIf(enabled)(
      'finds a rewritten history whose links were all recomputed, by its checkpoint',
      async () => {
        // The intruder alters event 7 and recomputes every digest and hash after it: only the
        // checkpoint at 10, signed with a key the database never held, still tells.
        await store.tamper(`update audit_event set payload = '{"name":"evil"}' where position = 7`);
        const rows = await store.database.db
          .selectFrom('audit_link as l')
          .innerJoin('audit_event as e', 'e.position', 'l.position')
          .selectAll('e')
          .select(['l.previous_hash', 'l.hash'])
          .where('l.position', '>=', 7)
          .orderBy('l.position')
          .execute();
        let previous = (
          await store.database.db
            .selectFrom('audit_link')
            .select('hash')
            .where('position', '=', 6)
            .executeTakeFirstOrThrow()
        ).hash;
        const statements: string[] = [];
        for (const row of rows) {
          const digest = eventDigest(chainedEventOf(row));
          const hash = linkHash(previous, row.position, tenantTag(row.tenant_id), digest);
          statements.push(
            `update audit_link set previous_hash = '${previous}', digest = '${digest}', hash = '${hash}' where position = ${row.position}`,
          );
          previous = hash;
        }
        statements.push(`update chain_head set hash = '${previous}'`);
        await store.tamper(...statements);
        const result = await verify();
        expect(result).toMatchObject({ ok: false, firstBrokenPosition: 10 });
        expect(result.problem).toMatch(/checkpoint does not match/);
      },
    );
  });
});
