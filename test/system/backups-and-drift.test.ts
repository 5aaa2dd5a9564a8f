import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allAuditEvents } from '../support/audit-events.js';
import { addMember, bearer, signIn } from '../support/identities.js';
import {
  enrollRouter,
  onRouter,
  startRouters,
  type InventoryEntry,
  type Simulator,
} from '../support/routers.js';
import {
  createTenant,
  engineMatrix,
  eventually,
  startTestFederation,
  type TestFederation,
} from '../support/test-federation.js';

interface Backup {
  id: string;
  reason: string;
  digest: string;
  jobId: string | null;
  takenAt: string;
}

interface Drift {
  status: string;
  checkedAt: string | null;
  detectedAt: string | null;
  version: number | null;
  template: { id: string } | null;
  changes: { action: string; menu: string; properties: Record<string, string> | null }[];
}

const BACKUP_FIELDS = 'id reason digest jobId takenAt';
const DRIFT_FIELDS = 'status checkedAt detectedAt version template { id } changes { action menu properties }';
const BACKUPS = `query($id: ID!) { device(id: $id) { backups(limit: 100) { ${BACKUP_FIELDS} } } }`;
const BACKUP = `query($id: ID!) { backup(id: $id) { ${BACKUP_FIELDS} device { id } menus { path items } } }`;
const BACKUP_NOW = `mutation($id: ID!) { backupDevice(id: $id) { ${BACKUP_FIELDS} } }`;
const DIFF = `query($from: ID!, $to: ID!) {
  backupDiff(fromId: $from, toId: $to) {
    empty from { id } to { id }
    menus { path added removed changed { item before after } moved { item from to } }
  }
}`;
const DRIFT = `query($id: ID!) { device(id: $id) { drift { ${DRIFT_FIELDS} } } }`;
const CHECK = `mutation($id: ID!) { checkDrift(deviceId: $id) { ${DRIFT_FIELDS} } }`;
const APPLY = `mutation($d: ID!, $t: ID!, $v: JSON) { applyProvisioning(deviceId: $d, templateId: $t, variables: $v) { id } }`;

const SPEC = {
  identity: { name: '${site}-gw' },
  services: [{ name: 'telnet', disabled: true }],
  addresses: [{ address: '10.40.0.1/24', interface: 'ether2', comment: 'lan' }],
  firewallFilter: [
    { chain: 'input', action: 'accept', connectionState: 'established,related', comment: 'established' },
    { chain: 'input', action: 'accept', protocol: 'tcp', dstPort: '22', comment: 'ssh' },
    { chain: 'input', action: 'drop', comment: 'drop-rest' },
  ],
};

/**
 * Backups and drift through the gateway against simulated routers: a snapshot after each job,
 * on a schedule and on demand, de-duplicated; diffs that name exactly what changed on the
 * router; the drift check that finds it, tells audit once, and clears when the template is
 * applied again; and every backup kept within its tenant and gone with its device.
 */
describe.each(await engineMatrix())('backups and drift on $engine', ({ engine, enabled }) => {
  let fleet: TestFederation;
  let routers: Simulator;
  let tenantId: string;
  let templateId: string;
  let deviceId: string;
  let jobId: string;

  const enroll = (router: InventoryEntry, name: string) => enrollRouter(fleet, tenantId, router, name);
  const apply = async (device: string) => {
    const queued = await fleet.asAdmin<{ applyProvisioning: { id: string } }>(APPLY, {
      d: device,
      t: templateId,
      v: { site: 'ams' },
    });
    expect(queued.errors).toBeUndefined();
    const id = queued.data!.applyProvisioning.id;
    await eventually(async () => {
      const job = await fleet.asAdmin<{ job: { status: string } }>(
        'query($id: ID!) { job(id: $id) { status } }',
        {
          id,
        },
      );
      const status = job.data!.job.status;
      if (status === 'failed' || status === 'canceled') throw new Error(`job ${status}`);
      return status === 'succeeded' ? true : undefined;
    }, 30_000);
    return id;
  };
  const backups = async (device: string) =>
    (await fleet.asAdmin<{ device: { backups: Backup[] } }>(BACKUPS, { id: device })).data!.device.backups;
  const backupNow = async (device: string) => {
    const taken = await fleet.asAdmin<{ backupDevice: Backup }>(BACKUP_NOW, { id: device });
    expect(taken.errors).toBeUndefined();
    return taken.data!.backupDevice;
  };
  const drift = async (device: string) =>
    (await fleet.asAdmin<{ device: { drift: Drift } }>(DRIFT, { id: device })).data!.device.drift;

  beforeAll(async () => {
    if (!enabled) return;
    // Passwords no log or answer could contain by chance; the third router runs RouterOS 6.
    routers = await startRouters(
      ['7.18', '7.18', '6.49'].map((version) => ({
        version,
        users: [
          { name: 'admin', password: `Router ${randomBytes(12).toString('base64url')}`, group: 'full' },
        ],
      })),
    );
    fleet = await startTestFederation({
      engine,
      overrides: {
        devices: {
          DEVICES_JOB_POLL_MS: '100',
          DEVICES_BACKUP_INTERVAL_S: '2',
          DEVICES_DRIFT_INTERVAL_S: '1',
          DEVICES_ROUTER_CONNECT_TIMEOUT_MS: '1000',
          DEVICES_ROUTER_CALL_TIMEOUT_MS: '3000',
        },
      },
    });
    tenantId = await createTenant(fleet, 'Backed Up', 'backed-up');
    const created = await fleet.asAdmin<{ createTemplate: { id: string } }>(
      'mutation($input: CreateTemplateInput!) { createTemplate(input: $input) { id } }',
      { input: { tenantId, name: 'edge', spec: SPEC, variables: [{ name: 'site', type: 'string' }] } },
    );
    templateId = created.data!.createTemplate.id;
    deviceId = await enroll(routers.inventory()[0]!, 'r0');
    jobId = await apply(deviceId);
  });

  afterAll(async () => {
    await fleet?.destroy();
    await routers?.close();
  });

  it.runIf(enabled)(
    'leaves a snapshot of the managed menus after a job succeeded, and is in sync',
    async () => {
      const afterApply = await eventually(async () =>
        (await backups(deviceId)).find((backup) => backup.reason === 'AFTER_APPLY'),
      );
      expect(afterApply).toMatchObject({ jobId, digest: expect.stringMatching(/^[0-9a-f]{64}$/) });
      const read = await fleet.asAdmin<{
        backup: Backup & {
          device: { id: string };
          menus: { path: string; items: Record<string, string>[] }[];
        };
      }>(BACKUP, { id: afterApply.id });
      const { menus, device } = read.data!.backup;
      expect(device.id).toBe(deviceId);
      const items = (path: string) => menus.find((menu) => menu.path === path)?.items;
      expect(items('/system/identity')).toEqual([{ name: 'ams-gw' }]);
      expect(items('/ip/firewall/filter')!.map((rule) => rule.comment)).toEqual([
        'established',
        'ssh',
        'drop-rest',
      ]);
      // No ids, counters or run-time state; no dynamic items (the connected routes).
      const text = JSON.stringify(menus);
      for (const noise of ['.id', '"bytes"', '"packets"', '"dynamic"', '"actual-interface"', '"invalid"'])
        expect(text).not.toContain(noise);
      expect(items('/ip/route')).toEqual([]);
      expect(items('/ip/address')).toContainEqual(
        expect.objectContaining({ address: '10.40.0.1/24', comment: 'lan' }),
      );
      expect(await drift(deviceId)).toMatchObject({
        status: 'IN_SYNC',
        version: 1,
        template: { id: templateId },
        changes: [],
      });
    },
  );

  it.runIf(enabled)('backs an unchanged router up to the same digest, and the diff is empty', async () => {
    const first = await backupNow(deviceId);
    const second = await backupNow(deviceId);
    expect(first.reason).toBe('MANUAL');
    expect(second.id).not.toBe(first.id);
    expect(second.digest).toBe(first.digest);
    const afterApply = (await backups(deviceId)).find((backup) => backup.reason === 'AFTER_APPLY')!;
    expect(afterApply.digest).toBe(first.digest);
    const diff = await fleet.asAdmin<{ backupDiff: { empty: boolean; menus: unknown[] } }>(DIFF, {
      from: first.id,
      to: second.id,
    });
    expect(diff.data!.backupDiff).toMatchObject({
      empty: true,
      menus: [],
      from: { id: first.id },
      to: { id: second.id },
    });
  });

  it.runIf(enabled)('backs the router up on schedule too, newest first', async () => {
    const listed = await eventually(async () => {
      const all = await backups(deviceId);
      return all.some((backup) => backup.reason === 'SCHEDULED') ? all : undefined;
    });
    const times = listed.map((backup) => Date.parse(backup.takenAt));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    const limited = await fleet.asAdmin<{ device: { backups: Backup[] } }>(
      'query($id: ID!) { device(id: $id) { backups(limit: 1) { id } } }',
      { id: deviceId },
    );
    expect(limited.data!.device.backups).toHaveLength(1);
    const refused = await fleet.asAdmin('query($id: ID!) { device(id: $id) { backups(limit: 0) { id } } }', {
      id: deviceId,
    });
    expect(refused.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'limit' });
  });

  it.runIf(enabled)(
    'names exactly the change made on the router; the drift check finds it, tells audit once, and clears on apply',
    async () => {
      const router = routers.inventory()[0]!;
      const before = await backupNow(deviceId);
      await onRouter(router, async (client) => {
        const [ssh] = await client.print('/ip/firewall/filter', { where: { comment: 'ssh' } });
        await client.set('/ip/firewall/filter', [ssh!['.id']!], { 'dst-port': '2222' });
      });
      const after = await backupNow(deviceId);
      expect(after.digest).not.toBe(before.digest);
      const diff = await fleet.asAdmin<{ backupDiff: { empty: boolean; menus: unknown[] } }>(DIFF, {
        from: before.id,
        to: after.id,
      });
      expect(diff.data!.backupDiff).toMatchObject({
        empty: false,
        menus: [
          {
            path: '/ip/firewall/filter',
            added: [],
            removed: [],
            changed: [
              { item: { comment: 'ssh' }, before: { 'dst-port': '22' }, after: { 'dst-port': '2222' } },
            ],
            moved: [],
          },
        ],
      });

      // The periodic check finds the router drifted, with the changes that would bring it back.
      const drifted = await eventually(async () => {
        const current = await drift(deviceId);
        return current.status === 'DRIFTED' ? current : undefined;
      });
      expect(drifted.detectedAt).not.toBeNull();
      // The rule is found by its comment and set back, in place.
      expect(drifted.changes.map((change) => [change.action, change.menu])).toEqual([
        ['set', '/ip/firewall/filter'],
      ]);
      expect(drifted.changes[0]!.properties).toEqual({ 'dst-port': '22' });
      // Checked again and still drifted: the same detection, not a new one.
      await eventually(async () => {
        const current = await drift(deviceId);
        return Date.parse(current.checkedAt!) > Date.parse(drifted.checkedAt!) ? current : undefined;
      });
      expect((await drift(deviceId)).detectedAt).toBe(drifted.detectedAt);
      const detected = await eventually(async () => {
        const found = (await allAuditEvents(fleet)).filter(
          (event) => event.aggregateId === deviceId && event.type === 'drift.detected',
        );
        return found.length > 0 ? found : undefined;
      });
      expect(detected).toHaveLength(1);
      expect(detected[0]).toMatchObject({
        tenantId,
        actor: { kind: 'system', id: null },
        payload: {
          deviceId,
          tenantId,
          templateId,
          templateVersion: 1,
          summary: { '/ip/firewall/filter': { set: 1 } },
        },
      });
      expect(JSON.stringify(detected[0])).not.toContain(router.password);

      // Applying the template again brings it back: in sync, and audit hears of it.
      await apply(deviceId);
      expect(await drift(deviceId)).toMatchObject({ status: 'IN_SYNC', detectedAt: null, changes: [] });
      const checked = await fleet.asAdmin<{ checkDrift: Drift }>(CHECK, { id: deviceId });
      expect(checked.data!.checkDrift).toMatchObject({ status: 'IN_SYNC', changes: [] });
      const events = await eventually(async () => {
        const found = (await allAuditEvents(fleet)).filter(
          (event) => event.aggregateId === deviceId && event.type.startsWith('drift.'),
        );
        return found.some((event) => event.type === 'drift.resolved') ? found : undefined;
      });
      expect(events.map((event) => event.type)).toEqual(['drift.detected', 'drift.resolved']);
    },
  );

  it.runIf(enabled)(
    'checks drift on demand, and leaves it as it was when the router cannot be reached',
    async () => {
      const router = routers.inventory()[0]!;
      await onRouter(router, (client) => client.setSingle('/system/identity', { name: 'renamed-by-hand' }));
      const checked = await fleet.asAdmin<{ checkDrift: Drift }>(CHECK, { id: deviceId });
      expect(checked.data!.checkDrift.status).toBe('DRIFTED');
      expect(checked.data!.checkDrift.changes).toEqual([
        { action: 'set', menu: '/system/identity', properties: { name: 'ams-gw' } },
      ]);
      routers.routers[0]!.setOffline(true);
      try {
        const refused = await fleet.asAdmin(CHECK, { id: deviceId });
        expect(refused.errors?.[0]?.extensions?.code).toBe('SERVICE_UNAVAILABLE');
        expect(refused.errors?.[0]?.message).toMatch(/^Could not check the router for drift: /);
        expect((await drift(deviceId)).status).toBe('DRIFTED');
      } finally {
        routers.routers[0]!.setOffline(false);
      }
      await apply(deviceId);
      expect((await drift(deviceId)).status).toBe('IN_SYNC');
    },
  );

  it.runIf(enabled)(
    'answers a clear error for a router it cannot reach, and skips it on schedule until it is back',
    async () => {
      const router = routers.inventory()[1]!;
      const device = await enroll(router, 'r1');
      expect(await drift(device)).toMatchObject({ status: 'UNKNOWN', checkedAt: null, changes: [] });
      const unknown = await fleet.asAdmin<{ checkDrift: Drift }>(CHECK, { id: device });
      expect(unknown.data!.checkDrift.status).toBe('UNKNOWN');
      routers.routers[1]!.setOffline(true);
      try {
        const refused = await fleet.asAdmin(BACKUP_NOW, { id: device });
        expect(refused.errors?.[0]?.extensions?.code).toBe('SERVICE_UNAVAILABLE');
        expect(refused.errors?.[0]?.message).toMatch(/^Could not back up the router: /);
        expect(refused.errors?.[0]?.message).not.toContain(router.password);
        expect(await backups(device)).toEqual([]);
        // On schedule, the router is skipped while it cannot be reached, and said so in the log.
        await eventually(() =>
          Promise.resolve(
            fleet
              .logs('devices')
              .some((line) => line.includes('scheduled backup skipped') && line.includes(device))
              ? true
              : undefined,
          ),
        );
      } finally {
        routers.routers[1]!.setOffline(false);
      }
      // And tried again the next time.
      await eventually(async () =>
        (await backups(device)).some((backup) => backup.reason === 'SCHEDULED') ? true : undefined,
      );
      expect(fleet.logs('devices').filter((line) => line.includes(router.password))).toEqual([]);
    },
  );

  it.runIf(enabled)("keeps a tenant's backups from every other tenant", async () => {
    const [first, second] = await backups(deviceId);
    const otherTenant = await createTenant(fleet, 'Other Backed Up', 'other-backed-up');
    const outsider = await addMember(
      fleet,
      { id: otherTenant, slug: 'other-backed-up' },
      { email: 'owner@other-backed-up.example', fullName: 'Owner', roles: ['owner'] },
    );
    const token = bearer((await signIn(fleet, outsider)).accessToken);
    const seen = await fleet.graphql(BACKUP, { id: first!.id }, token);
    expect(seen.data).toEqual({ backup: null });
    const diff = await fleet.graphql(DIFF, { from: first!.id, to: second!.id }, token);
    expect(diff.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const taken = await fleet.graphql(BACKUP_NOW, { id: deviceId }, token);
    expect(taken.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const checked = await fleet.graphql(CHECK, { id: deviceId }, token);
    expect(checked.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const device = await fleet.graphql(BACKUPS, { id: deviceId }, token);
    expect(device.data).toEqual({ device: null });
  });

  it.runIf(enabled)('refuses a diff of two devices’ backups', async () => {
    const other = await enroll(routers.inventory()[2]!, 'r2');
    const theirs = await backupNow(other);
    // RouterOS 6 words its menus its own way; the snapshot is as free of noise.
    const read = await fleet.asAdmin<{
      backup: { menus: { path: string; items: Record<string, string>[] }[] };
    }>(BACKUP, { id: theirs.id });
    const menus = read.data!.backup.menus;
    expect(menus.find((menu) => menu.path === '/system/ntp/client')!.items).toEqual([
      expect.objectContaining({ enabled: 'false', 'primary-ntp': '0.0.0.0' }),
    ]);
    for (const item of menus.flatMap((menu) => menu.items))
      for (const noise of ['.id', 'status', 'dynamic', 'bytes']) expect(item).not.toHaveProperty([noise]);
    const [ours] = await backups(deviceId);
    const refused = await fleet.asAdmin(DIFF, { from: ours!.id, to: theirs.id });
    expect(refused.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'toId' });
  });

  it.runIf(enabled)("removes a device's backups with it", async () => {
    const device = (
      await fleet.asAdmin<{ devices: { id: string; name: string }[] }>(
        'query($t: ID!) { devices(tenantId: $t) { id name } }',
        { t: tenantId },
      )
    ).data!.devices.find((candidate) => candidate.name === 'r2')!.id;
    const [taken] = await backups(device);
    expect(taken).toBeDefined();
    const removed = await fleet.asAdmin<{ removeDevice: boolean }>(
      'mutation($id: ID!) { removeDevice(id: $id) }',
      {
        id: device,
      },
    );
    expect(removed.data!.removeDevice).toBe(true);
    const read = await fleet.asAdmin(BACKUP, { id: taken!.id });
    expect(read.data).toEqual({ backup: null });
  });
});
