import { createHash, randomUUID } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ExportVerifier } from '@fleet/audit-chain';
import type { OutboxEvent } from '@fleet/outbox';
import { createLogger, type Engine } from '@fleet/service-kit';
import { openAuditTestDatabase, type AuditTestDatabase } from '../../../../test/support/audit-database.js';
import { postgresSuiteEnabled } from '../../../../test/support/postgres.js';
import { verifyAuditLog } from '../chain/verify-log.js';
import { exportLines, planExport } from '../export/export-log.js';
import { RetentionPolicy } from './retention-policy.js';
import { RetentionSealer } from './retention-sealer.js';

const engines: { engine: Engine; enabled: boolean }[] = [
  { engine: 'pglite', enabled: true },
  { engine: 'postgres', enabled: await postgresSuiteEnabled() },
];

const DAY = 86_400_000;
const logger = createLogger({ service: 'test', level: 'silent' });

function event(tenantId: string | null): OutboxEvent {
  return {
    id: randomUUID(),
    source: 'billing',
    aggregateType: 'subscription',
    aggregateId: randomUUID(),
    sequence: 1,
    type: 'subscription.plan_changed',
    tenantId,
    actor: { kind: 'system', id: null },
    occurredAt: new Date().toISOString(),
    payload: { planId: 'pro' },
  };
}

/**
 * Retention on both engines: what is past a tenant's retention is exported, sealed by a
 * checkpoint and recorded, and only then pruned; the chain still verifies, and nothing is
 * pruned that no seal covers.
 */
describe.each(engines)('audit retention on $engine', ({ engine, enabled }) => {
  let store: AuditTestDatabase;
  let policy: RetentionPolicy;
  let sealer: RetentionSealer;
  const tenantA = randomUUID();
  const tenantB = randomUUID();
  const bodies = async (tenantId: string | null) =>
    (
      await store.database.db
        .selectFrom('audit_event')
        .select('position')
        .where(sql<boolean>`tenant_id is not distinct from ${tenantId}`)
        .where('source', '=', 'billing')
        .orderBy('position')
        .execute()
    ).map((row) => row.position);

  beforeAll(async () => {
    if (enabled) store = await openAuditTestDatabase(engine);
  });
  beforeEach(async () => {
    if (!enabled) return;
    await store.reset();
    policy = new RetentionPolicy(store.database.db, null);
    const writer = store.writer({ checkpointEveryEvents: 4 });
    sealer = new RetentionSealer(store.database.db, writer, policy, {
      sealDir: store.sealDir,
      maxEventsPerSeal: 1_000,
      logger,
    });
    // Ten days ago: A, B, A, platform, A; today: A, B.
    const old = store.writer({ checkpointEveryEvents: 4, now: () => new Date(Date.now() - 10 * DAY) });
    for (const tenant of [tenantA, tenantB, tenantA, null, tenantA]) await old.append([event(tenant)]);
    await writer.append([event(tenantA), event(tenantB)]);
  });
  afterAll(async () => {
    if (enabled) await store.close();
  });

  it.runIf(enabled)('keeps everything while no retention is set', async () => {
    expect(await sealer.enforce()).toEqual([]);
    expect(await bodies(tenantA)).toEqual([1, 3, 5, 6]);
  });

  it.runIf(enabled)("exports, seals and then prunes a tenant's events past its retention", async () => {
    await policy.set(tenantA, 5);
    const [seal, ...more] = await sealer.enforce();
    expect(more).toEqual([]);
    expect(seal).toMatchObject({ tenantId: tenantA, fromPosition: 1, toPosition: 5, events: 3 });
    expect(await bodies(tenantA)).toEqual([6]);
    expect(await bodies(tenantB)).toEqual([2, 7]);
    expect(await bodies(null)).toEqual([4]);

    // The export is on disk, readable by its owner only, with the digest the seal recorded, and
    // it verifies on its own: the pruned events are in it, another tenant's are not.
    const file = join(store.sealDir, seal!.exportFile);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const text = await readFile(file, 'utf8');
    expect(createHash('sha256').update(text).digest('hex')).toBe(seal!.exportSha256);
    const verifier = new ExportVerifier(store.signer.publicKeys);
    for (const line of text.split('\n').slice(0, -1)) verifier.accept(line);
    expect(verifier.finish()).toMatchObject({ ok: true, tenantId: tenantA, events: 4 });
    expect(text).not.toContain(tenantB);

    // The chain verifies, counting the pruned events, and the seal itself became an event.
    expect(await verifyAuditLog(store.database.db, store.signer.publicKeys)).toMatchObject({
      ok: true,
      pruned: 3,
    });
    const recorded = await store.database.db
      .selectFrom('audit_event')
      .select(['event_type', 'tenant_id', 'payload'])
      .where('source', '=', 'audit')
      .execute();
    expect(recorded.map((row) => ({ ...row, payload: JSON.parse(row.payload) as unknown }))).toEqual([
      {
        event_type: 'audit.sealed',
        tenant_id: tenantA,
        payload: expect.objectContaining({ id: seal!.id, events: 3, exportSha256: seal!.exportSha256 }),
      },
    ]);
    // A later export shows the pruned positions as links and still verifies.
    const plan = await planExport(store.database.db, store.writer(), {});
    const later = new ExportVerifier(store.signer.publicKeys);
    for await (const lines of exportLines(store.database.db, plan!, tenantA))
      for (const line of lines.split('\n').slice(0, -1)) later.accept(line);
    expect(later.finish()).toMatchObject({ ok: true, events: 2 });

    expect(await sealer.enforce()).toEqual([]);
  });

  it.runIf(enabled)(
    'applies the default to every tenant without its own, and to platform events',
    async () => {
      await policy.set(tenantA, 30);
      await policy.set(null, 5);
      const seals = await sealer.enforce();
      expect(seals.map((seal) => [seal.tenantId, seal.events]).sort()).toEqual(
        [
          [tenantB, 1],
          [null, 1],
        ].sort(),
      );
      expect(await bodies(tenantA)).toEqual([1, 3, 5, 6]);
      expect(await bodies(tenantB)).toEqual([7]);
      expect(await bodies(null)).toEqual([]);
      expect(await verifyAuditLog(store.database.db, store.signer.publicKeys)).toMatchObject({
        ok: true,
        pruned: 2,
      });
    },
  );

  it.runIf(enabled)('never prunes what no seal covers', async () => {
    await policy.set(tenantA, 5);
    await sealer.enforce();
    // B's old event lies inside the positions A's seal spans, but the seal is A's.
    await expect(sql`delete from audit_event where position = 2`.execute(store.database.db)).rejects.toThrow(
      /not covered by a retention seal/,
    );
    // A's recent event is A's, but newer than the seal's cutoff.
    await expect(sql`delete from audit_event where position = 6`.execute(store.database.db)).rejects.toThrow(
      /not covered by a retention seal/,
    );
  });
});
