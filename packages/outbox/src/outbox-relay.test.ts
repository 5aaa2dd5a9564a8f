import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKey, decodeKey } from '@fleet/request-signing';
import { createLogger, openDatabase, readBody, SignatureCheck, type Database } from '@fleet/service-kit';
import type { IngestBody, OutboxEvent } from './event.js';
import { outboxMigration, type OutboxTables } from './outbox-schema.js';
import { OutboxRelay } from './outbox-relay.js';
import { recordEvent } from './record-event.js';

const logger = createLogger({ service: 'test', level: 'silent' });
const key = decodeKey(generateKey()) as Buffer;

/** A stand-in for audit's ingest: checks signatures, fails while told to, records what it got. */
function fakeIngest(): { server: Server; received: OutboxEvent[]; failNext: { count: number } } {
  const received: OutboxEvent[] = [];
  const failNext = { count: 0 };
  const signatures = new SignatureCheck({ audience: 'audit', logger });
  const server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req, 10_000_000);
      try {
        signatures.check(req, body, new Map([['devices', key]]));
      } catch {
        res.writeHead(401).end();
        return;
      }
      if (failNext.count > 0) {
        failNext.count--;
        res.writeHead(503).end();
        return;
      }
      received.push(...(JSON.parse(body.toString()) as IngestBody).events);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    })();
  });
  return { server, received, failNext };
}

describe('outbox relay', () => {
  let dir: string;
  let database: Database<OutboxTables>;
  let ingest: ReturnType<typeof fakeIngest>;
  let auditUrl: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'outbox-'));
    database = await openDatabase<OutboxTables>({
      url: undefined,
      dataDir: dir,
      migrations: { '0000-outbox': outboxMigration },
      logger,
    });
    ingest = fakeIngest();
    await new Promise<void>((resolve) => ingest.server.listen(0, '127.0.0.1', resolve));
    auditUrl = `http://127.0.0.1:${(ingest.server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    ingest.server.close();
    await database.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('numbers the changes of each entity from 1, atomically', async () => {
    await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        database.db.transaction().execute((trx) =>
          recordEvent(trx, {
            aggregateType: 'device',
            aggregateId: 'a',
            type: 'device.updated',
            tenantId: null,
            actor: { kind: 'system', id: null },
            payload: { i },
          }),
        ),
      ),
    );
    const rows = await database.db.selectFrom('outbox').select('sequence').orderBy('sequence').execute();
    expect(rows.map((r) => r.sequence)).toEqual([1, 2, 3, 4, 5]);
  });

  it('ships every event once, in order, through failures, and empties the outbox', async () => {
    for (let i = 0; i < 245; i++) {
      await recordEvent(database.db, {
        aggregateType: 'device',
        aggregateId: `d${i}`,
        type: 'device.created',
        tenantId: null,
        actor: { kind: 'anonymous', id: null },
        payload: { i },
      });
    }
    ingest.failNext.count = 3;
    const relay = new OutboxRelay({
      db: database.db,
      tls: undefined,
      source: 'devices',
      auditUrl,
      key,
      logger,
      minBackoffMs: 10,
      maxBackoffMs: 50,
      pollIntervalMs: 20,
    });
    relay.start();
    const deadline = Date.now() + 20_000;
    while (ingest.received.length < 250 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await relay.stop();
    expect(ingest.received).toHaveLength(250);
    expect(new Set(ingest.received.map((e) => e.id)).size).toBe(250);
    expect(ingest.received.every((e) => e.source === 'devices')).toBe(true);
    const order = ingest.received.slice(5).map((e) => (e.payload as { i: number }).i);
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(await database.db.selectFrom('outbox').selectAll().execute()).toEqual([]);
  });

  it('is refused by audit when signing with another key', async () => {
    await recordEvent(database.db, {
      aggregateType: 'device',
      aggregateId: 'x',
      type: 'device.created',
      tenantId: null,
      actor: { kind: 'anonymous', id: null },
      payload: {},
    });
    const relay = new OutboxRelay({
      db: database.db,
      tls: undefined,
      source: 'devices',
      auditUrl,
      key: decodeKey(generateKey()) as Buffer,
      logger,
    });
    await expect(relay.shipBatch()).rejects.toThrow('audit answered 401');
    const left = await database.db.selectFrom('outbox').select(['aggregate_id', 'claimed_until']).execute();
    expect(left).toEqual([{ aggregate_id: 'x', claimed_until: null }]);
  });
});
