import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeKey, generateKey } from '@fleet/request-signing';
import { signedPost, type Engine } from '@fleet/service-kit';
import { deviceEvent } from '../../../../test/support/audit-database.js';
import {
  startAuditUnderTest,
  type AuditPeer,
  type AuditUnderTest,
} from '../../../../test/support/audit-service.js';
import { postgresSuiteEnabled } from '../../../../test/support/postgres.js';
import { testPki } from '../../../../test/support/test-pki.js';
import type { FeedPage } from './event-feed.js';

const pki = await testPki();

/**
 * Audit's event feed over HTTP, as billing reads it: signed by billing alone, one source and
 * some types after a position, in position order, bounded, and without payloads.
 */

const engines: { engine: Engine; enabled: boolean }[] = [
  { engine: 'pglite', enabled: true },
  { engine: 'postgres', enabled: await postgresSuiteEnabled() },
];

const DEVICE_TYPES = ['device.created', 'device.removed'];

describe.each(engines)('the audit event feed on $engine', ({ engine, enabled }) => {
  let audit: AuditUnderTest;

  beforeAll(async () => {
    if (enabled) audit = await startAuditUnderTest(engine);
  });
  afterAll(async () => {
    await audit?.stop();
  });

  /** A read of the feed signed as `caller`, with its own pair's key unless another is given. */
  const read = (body: unknown, caller: AuditPeer = 'billing', key?: Buffer) =>
    signedPost({
      caller,
      audience: 'audit',
      key: key ?? audit.keys[caller],
      baseUrl: audit.baseUrl,
      tls: pki.tls(caller),
      path: '/feed',
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  const page = async (body: unknown): Promise<FeedPage> => {
    const response = await read(body);
    expect(response.status, await response.clone().text()).toBe(200);
    return (await response.json()) as FeedPage;
  };

  it.runIf(enabled)(
    "answers devices' events of the types asked, after a position, in position order, without payloads",
    async () => {
      const tenant = randomUUID();
      const device = randomUUID();
      const created = deviceEvent({ tenantId: tenant, aggregateId: device });
      const updated = deviceEvent({
        tenantId: tenant,
        aggregateId: device,
        sequence: 2,
        type: 'device.updated',
      });
      const removed = deviceEvent({
        tenantId: tenant,
        aggregateId: device,
        sequence: 3,
        type: 'device.removed',
      });
      const other = deviceEvent();
      await audit.ingest('devices', [created, updated]);
      // Billing's own events of the same type names are another source's.
      await audit.ingest('billing', [
        { ...deviceEvent({ type: 'device.created' }), source: 'billing', aggregateType: 'subscription' },
      ]);
      await audit.ingest('devices', [removed, other]);

      const all = await page({ source: 'devices', types: DEVICE_TYPES, after: 0 });
      expect(all.events.map((e) => e.id)).toEqual([created.id, removed.id, other.id]);
      const positions = all.events.map((e) => e.position);
      expect([...positions].sort((a, b) => a - b)).toEqual(positions);
      expect(all.events[0]).toEqual({
        position: positions[0],
        id: created.id,
        type: 'device.created',
        aggregateId: device,
        tenantId: tenant,
        occurredAt: new Date(created.occurredAt).toISOString(),
      });
      expect(JSON.stringify(all)).not.toContain('"payload"');
      expect(JSON.stringify(all)).not.toContain(created.actor.id!);

      // After a position: only what came later; one type alone; the other types never.
      expect((await page({ source: 'devices', types: DEVICE_TYPES, after: positions[0] })).events).toEqual(
        all.events.slice(1),
      );
      expect(
        (await page({ source: 'devices', types: ['device.removed'], after: 0 })).events.map((e) => e.id),
      ).toEqual([removed.id]);
      expect((await page({ source: 'devices', types: DEVICE_TYPES, after: positions[2] })).events).toEqual(
        [],
      );
    },
  );

  it.runIf(enabled)(
    'pages through a long feed in bounded pages, each continuing where the last ended',
    async () => {
      const batch = Array.from({ length: 25 }, (_, i) =>
        deviceEvent({ type: i % 2 === 0 ? 'device.created' : 'device.removed' }),
      );
      await audit.ingest('devices', batch);
      const start = (await page({ source: 'devices', types: DEVICE_TYPES, after: 0, limit: 1_000 })).events;
      const before = start.length - batch.length;
      let after = before > 0 ? start[before - 1]!.position : 0;
      const seen: string[] = [];
      for (;;) {
        const next = await page({ source: 'devices', types: DEVICE_TYPES, after, limit: 10 });
        expect(next.events.length).toBeLessThanOrEqual(10);
        if (next.events.length === 0) break;
        seen.push(...next.events.map((e) => e.id));
        after = next.events.at(-1)!.position;
      }
      expect(seen).toEqual(batch.map((e) => e.id));
    },
  );

  it.runIf(enabled)('answers billing alone, signed with the key of its pair', async () => {
    const body = { source: 'devices', types: DEVICE_TYPES, after: 0 };
    for (const caller of ['devices', 'aaa', 'gateway'] as const)
      expect((await read(body, caller)).status).toBe(401);
    // Billing's name with another pair's key, or a key of nobody's.
    expect((await read(body, 'billing', audit.keys.devices)).status).toBe(401);
    expect((await read(body, 'billing', decodeKey(generateKey()) as Buffer)).status).toBe(401);
  });

  it.runIf(enabled)('refuses a malformed request, naming what is wrong', async () => {
    const cases: [unknown, string][] = [
      ['not json', 'Malformed JSON in request body'],
      [[], 'The body must be a JSON object'],
      [{ types: DEVICE_TYPES, after: 0 }, 'source must be the name of a service, e.g. "devices"'],
      [
        { source: 'devices', types: [], after: 0 },
        'types must be 1 to 20 event types, e.g. ["device.created"]',
      ],
      [{ source: 'devices', types: ['Device Created'], after: 0 }, 'types must be 1 to 20'],
      [
        { source: 'devices', types: DEVICE_TYPES, after: -1 },
        'after must be a position: a whole number from 0',
      ],
      [{ source: 'devices', types: DEVICE_TYPES, after: '3' }, 'after must be a position'],
      [
        { source: 'devices', types: DEVICE_TYPES, after: 0, limit: 1_001 },
        'limit must be a whole number from 1 to 1000',
      ],
      [{ source: 'devices', types: DEVICE_TYPES, after: 0, limit: 0 }, 'limit must be a whole number'],
    ];
    for (const [body, message] of cases) {
      const response = await read(body);
      expect(response.status).toBe(400);
      const answer = (await response.json()) as { errors: { message: string }[] };
      expect(answer.errors[0]!.message).toContain(message);
    }
  });
});
