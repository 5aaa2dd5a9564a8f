import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, openDatabase, type Database } from '@fleet/service-kit';
import { migrations } from '../database/migrations.js';
import type { DevicesDatabase } from '../database/schema.js';
import type { DeviceRegistry } from '../registry/device-registry.js';
import type { TemplateStore } from '../templates/template-store.js';
import { JobStore } from './job-store.js';

const logger = createLogger({ service: 'test', level: 'silent' });

/** Job claims against a real embedded database: one job per device, and the caps. */
describe('job claims', () => {
  let dir: string;
  let database: Database<DevicesDatabase>;
  let jobs: JobStore;

  /** A queued job of a device of a tenant, as enqueue stores one. */
  const queue = (tenantId: string, deviceId = randomUUID()) =>
    database.db
      .insertInto('provisioning_job')
      .values({
        id: randomUUID(),
        tenant_id: tenantId,
        device_id: deviceId,
        template_id: randomUUID(),
        template_version: 1,
        variables: '{}',
        status: 'queued',
        actor_kind: 'system',
        actor_id: null,
      })
      .execute();
  const claimAll = async (caps: { perTenant: number; total: number }) => {
    const claimed = [];
    for (;;) {
      const job = await jobs.claim(`worker-${claimed.length}`, 60_000, caps);
      if (!job) return claimed;
      claimed.push(job);
    }
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'job-claims-'));
    database = await openDatabase<DevicesDatabase>({ url: undefined, dataDir: dir, migrations, logger });
    // Claims touch neither devices nor templates.
    jobs = new JobStore(database.db, {
      devices: {} as DeviceRegistry,
      templates: {} as TemplateStore,
      onEvent: () => undefined,
    });
  });

  afterAll(async () => {
    await database?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('runs one job per device, at most perTenant of a tenant and total in all', async () => {
    const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
    const device = randomUUID();
    await queue(a, device);
    await queue(a, device);
    for (let i = 0; i < 3; i++) await queue(a);
    for (let i = 0; i < 3; i++) await queue(b);
    await queue(c);
    const claimed = await claimAll({ perTenant: 2, total: 5 });
    expect(claimed).toHaveLength(5);
    const count = (tenant: string) => claimed.filter((job) => job.tenant_id === tenant).length;
    expect([count(a), count(b), count(c)]).toEqual([2, 2, 1]);
    expect(new Set(claimed.map((job) => job.device_id)).size).toBe(5);
    // A raised total lets no tenant past its own cap.
    expect(await claimAll({ perTenant: 2, total: 100 })).toHaveLength(0);
    expect(await claimAll({ perTenant: 3, total: 100 })).toHaveLength(2);
  });
});
