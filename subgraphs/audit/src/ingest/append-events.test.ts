import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { OutboxEvent } from '@fleet/outbox';
import { createLogger, openDatabase, type Database } from '@fleet/service-kit';
import { GENESIS_HASH } from '../chain/hash-chain.js';
import { migrations } from '../database/migrations.js';
import type { AuditDatabase } from '../database/schema.js';
import { listEvents, verifyChain } from '../history/event-log.js';
import { appendEvents } from './append-events.js';
import { validateEvents } from './validate-events.js';

function event(overrides: Partial<OutboxEvent> = {}): OutboxEvent {
  return {
    id: randomUUID(),
    source: 'devices',
    aggregateType: 'device',
    aggregateId: randomUUID(),
    sequence: 1,
    type: 'device.created',
    tenantId: randomUUID(),
    actor: { kind: 'anonymous', id: null },
    occurredAt: new Date().toISOString(),
    payload: { name: 'r1', nested: { b: 2, a: [1, 'x'] } },
    ...overrides,
  };
}

describe('the audit chain', () => {
  let dir: string;
  let database: Database<AuditDatabase>;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'audit-'));
    database = await openDatabase<AuditDatabase>({
      url: undefined,
      dataDir: dir,
      migrations,
      logger: createLogger({ service: 'test', level: 'silent' }),
    });
  });

  beforeEach(async () => {
    await sql`delete from audit_event`.execute(database.db);
    await sql`update chain_head set position = 0, hash = ${GENESIS_HASH}`.execute(database.db);
  });

  afterAll(async () => {
    await database.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('appends each event once, however often it is delivered, linking each to the one before', async () => {
    const batch = [event(), event(), event()];
    expect(await appendEvents(database.db, batch)).toEqual({ appended: 3, duplicates: 0 });
    expect(await appendEvents(database.db, [batch[1]!, event(), batch[1]!])).toEqual({
      appended: 1,
      duplicates: 2,
    });
    const rows = await listEvents(database.db, 0, 100);
    expect(rows.map((r) => r.position)).toEqual([1, 2, 3, 4]);
    for (let i = 1; i < rows.length; i++) expect(rows[i]!.previous_hash).toBe(rows[i - 1]!.hash);
    expect(await verifyChain(database.db, 2)).toEqual({ ok: true, checked: 4, firstBrokenPosition: null });
  });

  it('names the first event whose record was altered', async () => {
    await appendEvents(database.db, [event(), event(), event(), event()]);
    await sql`update audit_event set payload = '{"name":"forged"}' where position = 3`.execute(database.db);
    expect(await verifyChain(database.db)).toEqual({ ok: false, checked: 2, firstBrokenPosition: 3 });
  });

  it('notices an event removed from the end', async () => {
    await appendEvents(database.db, [event(), event(), event()]);
    await sql`delete from audit_event where position = 3`.execute(database.db);
    expect(await verifyChain(database.db)).toEqual({ ok: false, checked: 2, firstBrokenPosition: 3 });
  });

  it('hashes the same event alike whatever its key order or time notation', async () => {
    const original = event({ occurredAt: '2026-11-23T10:00:00.000Z' });
    const reordered = validateEvents(
      {
        events: [
          {
            ...Object.fromEntries(Object.entries(original).reverse()),
            occurredAt: '2026-11-23T11:00:00+01:00',
            payload: { nested: { a: [1, 'x'], b: 2 }, name: 'r1' },
          },
        ],
      },
      'devices',
    );
    if ('error' in reordered) throw new Error(reordered.error);
    await appendEvents(database.db, reordered.events);
    expect((await verifyChain(database.db)).ok).toBe(true);
    expect(reordered.events[0]!.occurredAt).toBe('2026-11-23T10:00:00.000Z');
  });
});

describe('validateEvents', () => {
  it('accepts a well-formed batch and keeps only known fields', () => {
    const result = validateEvents({ events: [{ ...event(), extra: 'dropped' }] }, 'devices');
    expect('events' in result && Object.keys(result.events[0]!)).not.toContain('extra');
  });

  it.each([
    [{}, 'body must be {"events": [...]}'],
    [{ events: [event({ source: 'aaa' })] }, 'events[0]: source must be "devices", the signing service'],
    [{ events: [event({ id: 'x' })] }, 'events[0]: id must be a UUID'],
    [{ events: [event(), event({ sequence: 0 })] }, 'events[1]: sequence must be a positive integer'],
    [{ events: [event({ occurredAt: 'yesterday' })] }, 'events[0]: occurredAt must be an ISO 8601 time'],
    [{ events: [event({ actor: { kind: 'root' as 'user', id: null } })] }, 'events[0]: actor is invalid'],
    [
      { events: [event({ payload: [] as unknown as Record<string, unknown> })] },
      'events[0]: payload must be an object',
    ],
  ])('refuses %j', (body, error) => {
    expect(validateEvents(body, 'devices')).toEqual({ error });
  });
});
