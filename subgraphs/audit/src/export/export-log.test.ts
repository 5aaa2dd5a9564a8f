import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ExportVerifier, type ExportLine } from '@fleet/audit-chain';
import type { OutboxEvent } from '@fleet/outbox';
import type { Engine } from '@fleet/service-kit';
import { openAuditTestDatabase, type AuditTestDatabase } from '../../../../test/support/audit-database.js';
import { postgresSuiteEnabled } from '../../../../test/support/postgres.js';
import { CheckpointSigner } from '../chain/checkpoint-signer.js';
import { exportLines, planExport } from './export-log.js';

const run = promisify(execFile);
const CLI = new URL('../../../../packages/audit-chain/dist/verify-export-cli.js', import.meta.url).pathname;

const engines: { engine: Engine; enabled: boolean }[] = [
  { engine: 'pglite', enabled: true },
  { engine: 'postgres', enabled: await postgresSuiteEnabled() },
];

const tenantA = randomUUID();
const tenantB = randomUUID();

function event(tenantId: string | null, payload: Record<string, unknown> = { name: 'r1' }): OutboxEvent {
  return {
    id: randomUUID(),
    source: 'devices',
    aggregateType: 'device',
    aggregateId: randomUUID(),
    sequence: 1,
    type: 'device.created',
    tenantId,
    actor: { kind: 'user', id: randomUUID() },
    occurredAt: new Date().toISOString(),
    payload,
  };
}

/**
 * Exports verify offline with nothing but the public key, through the library and through the
 * command-line verifier, and any change to an export is found.
 */
describe.each(engines)('audit exports on $engine', ({ engine, enabled }) => {
  let store: AuditTestDatabase;

  const exportText = async (range: { from?: number; to?: number }, tenantId: string | null = null) => {
    const plan = await planExport(store.database.db, store.writer(), range);
    let text = '';
    for await (const lines of exportLines(store.database.db, plan!, tenantId, 4)) text += lines;
    return { plan: plan!, text };
  };
  const verify = (text: string, keys = store.signer.publicKeys) => {
    const verifier = new ExportVerifier(keys);
    for (const line of text.split('\n').slice(0, -1)) verifier.accept(line);
    return verifier.finish();
  };
  const lines = (text: string) =>
    text
      .split('\n')
      .slice(0, -1)
      .map((line) => JSON.parse(line) as ExportLine);
  const unlines = (parsed: ExportLine[]) => parsed.map((line) => `${JSON.stringify(line)}\n`).join('');

  beforeAll(async () => {
    if (enabled) store = await openAuditTestDatabase(engine);
  });
  beforeEach(async () => {
    if (!enabled) return;
    await store.reset();
    // 15 events, alternately of tenants A and B and some of no tenant; checkpoints at 5 and 10.
    const writer = store.writer({ checkpointEveryEvents: 5 });
    for (let i = 0; i < 15; i++) await writer.append([event(i % 5 === 4 ? null : i % 2 ? tenantB : tenantA)]);
  });
  afterAll(async () => {
    if (enabled) await store.close();
  });

  it.runIf(enabled)('exports the whole log, ending on a fresh checkpoint, and it verifies', async () => {
    const { plan, text } = await exportText({});
    expect(plan).toMatchObject({ fromPosition: 1, toPosition: 15, anchor: null });
    expect(verify(text)).toEqual({
      ok: true,
      fromPosition: 1,
      toPosition: 15,
      tenantId: null,
      events: 15,
      linksOnly: 0,
      checkpoints: 3,
      keyIds: [store.signer.keyId],
    });
  });

  it.runIf(enabled)('snaps a range to the checkpoints around it', async () => {
    const { plan, text } = await exportText({ from: 7, to: 8 });
    expect(plan).toMatchObject({ fromPosition: 6, toPosition: 10, anchor: { position: 5 } });
    expect(verify(text)).toMatchObject({
      ok: true,
      fromPosition: 6,
      toPosition: 10,
      events: 5,
      checkpoints: 1,
    });
  });

  it.runIf(enabled)("holds one tenant's events only, the others' positions as links", async () => {
    const { text } = await exportText({}, tenantA);
    const parsed = lines(text);
    const events = parsed.flatMap((line) => (line.kind === 'event' ? [line.event] : []));
    expect(events.length).toBeGreaterThan(0);
    expect(events.every((e) => e.tenantId === tenantA)).toBe(true);
    expect(
      parsed.filter((line) => line.kind === 'link').every((line) => line.reason === 'other-tenant'),
    ).toBe(true);
    expect(text).not.toContain(tenantB);
    expect(verify(text)).toMatchObject({ ok: true, tenantId: tenantA, events: events.length });
  });

  it.runIf(enabled)('finds any change to an export, naming its line', async () => {
    const { text } = await exportText({});
    const parsed = lines(text);
    const withEvent = (index: number, change: (line: Extract<ExportLine, { kind: 'event' }>) => void) => {
      const copy = structuredClone(parsed);
      change(copy[index] as Extract<ExportLine, { kind: 'event' }>);
      return unlines(copy);
    };
    expect(verify(withEvent(3, (line) => (line.event.payload = { name: 'evil' })))).toMatchObject({
      ok: false,
      line: 4,
      position: 3,
      reason: 'the event does not match its hash',
    });
    expect(verify(withEvent(2, (line) => (line.event.actor.id = randomUUID())))).toMatchObject({
      ok: false,
      position: 2,
    });
    expect(verify(unlines(parsed.filter((_, index) => index !== 4)))).toMatchObject({
      ok: false,
      position: 4,
    });
    expect(verify(unlines([parsed[0]!, parsed[2]!, parsed[1]!, ...parsed.slice(3)]))).toMatchObject({
      ok: false,
    });
    expect(verify(unlines(parsed.slice(0, -1)))).toMatchObject({
      ok: false,
      reason: /end with a checkpoint/,
    });
    const otherKeys = new CheckpointSigner(generateKeyPairSync('ed25519').privateKey).publicKeys;
    expect(verify(text, otherKeys)).toMatchObject({ ok: false, reason: /not signed by a given key/ });
  });

  it.runIf(enabled && engine === 'pglite')(
    'verifies offline with the command-line tool and the public key alone',
    async () => {
      const { text } = await exportText({});
      const dir = store.sealDir.replace(/seals$/, '');
      const keyFile = join(dir, 'audit-public-key.pem');
      const good = join(dir, 'export.ndjson');
      const bad = join(dir, 'tampered.ndjson');
      await writeFile(keyFile, store.signer.published()[0]!.publicKeyPem);
      await writeFile(good, text);
      await writeFile(bad, text.replace('"name":"r1"', '"name":"r2"'));
      const ok = await run(process.execPath, [CLI, '--public-key', keyFile, good]);
      expect(ok.stdout).toBe(
        `OK: positions 1-15: 15 events, 0 links without their event, 3 checkpoints signed by ${store.signer.keyId}\n`,
      );
      await expect(run(process.execPath, [CLI, '--public-key', keyFile, bad])).rejects.toMatchObject({
        code: 1,
        stdout: 'BROKEN at line 2 (position 1): the event does not match its hash\n',
      });
      await expect(run(process.execPath, [CLI, good])).rejects.toMatchObject({
        code: 2,
        stderr: expect.stringContaining('give at least one --public-key'),
      });
    },
  );
});
