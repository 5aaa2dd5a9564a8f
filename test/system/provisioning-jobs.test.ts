import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RouterClient } from '@fleet/router-api';
import { allAuditEvents } from '../support/audit-events.js';
import { reach, startRouters, type InventoryEntry, type Simulator } from '../support/routers.js';
import {
  choosePlan,
  createTenant,
  engineMatrix,
  eventually,
  startTestFederation,
  type TestFederation,
} from '../support/test-federation.js';

interface Job {
  id: string;
  status: string;
  attempts: number;
  summary: Record<string, Record<string, number>> | null;
  error: string | null;
  faults: { attempt: number; message: string; changesDone: unknown[] }[];
}

const JOB_FIELDS = 'id status attempts summary error faults { attempt message changesDone }';
const APPLY = `mutation($d: ID!, $t: ID!, $v: JSON) { applyProvisioning(deviceId: $d, templateId: $t, variables: $v) { ${JOB_FIELDS} } }`;
const JOB = `query($id: ID!) { job(id: $id) { ${JOB_FIELDS} } }`;
const PLAN =
  'query($d: ID!, $t: ID!, $v: JSON) { planProvisioning(deviceId: $d, templateId: $t, variables: $v) { empty } }';

/** Twenty firewall rules and the basics: enough changes for a job to be caught in the middle. */
const RULES = Array.from({ length: 20 }, (_, i) => ({
  chain: 'input',
  action: 'accept',
  protocol: 'tcp',
  dstPort: String(10_000 + i),
  comment: `rule-${i}`,
}));
const SPEC = {
  identity: { name: '${site}-gw' },
  services: [
    { name: 'telnet', disabled: true },
    { name: 'ftp', disabled: true },
  ],
  addresses: [{ address: '10.30.0.1/24', interface: 'ether2' }],
  firewallFilter: RULES,
};

/**
 * Durable provisioning jobs through the gateway against simulated routers: applied and
 * verified, idempotent, waiting for offline routers, failing with the router's own words, and
 * resuming after the devices process is killed in the middle of an apply.
 */
describe.each(await engineMatrix())('provisioning jobs on $engine', ({ engine, enabled }) => {
  let fleet: TestFederation;
  let routers: Simulator;
  let tenantId: string;
  let templateId: string;

  const job = async (id: string) => (await fleet.asAdmin<{ job: Job }>(JOB, { id })).data!.job;
  const settled = (id: string, timeoutMs = 30_000) =>
    eventually(async () => {
      const current = await job(id);
      return ['succeeded', 'failed', 'canceled'].includes(current.status) ? current : undefined;
    }, timeoutMs);
  const enroll = async (router: InventoryEntry, name: string) =>
    (
      await fleet.asAdmin<{ createDevice: { id: string } }>(
        'mutation($input: CreateDeviceInput!) { createDevice(input: $input) { id } }',
        { input: { tenantId, name, ...reach(router) } },
      )
    ).data!.createDevice.id;
  const apply = async (
    deviceId: string,
    variables: Record<string, unknown> = { site: 'ams' },
    template = templateId,
  ) => {
    const result = await fleet.asAdmin<{ applyProvisioning: Job }>(APPLY, {
      d: deviceId,
      t: template,
      v: variables,
    });
    expect(result.errors).toBeUndefined();
    return result.data!.applyProvisioning;
  };
  const admin = (router: InventoryEntry) =>
    new RouterClient({
      name: router.name,
      host: router.host,
      port: router.tlsPort,
      username: router.username,
      password: router.password,
      tls: { mode: 'pinned', fingerprint256: router.fingerprint256 },
    });
  const filterComments = async (router: InventoryEntry) => {
    const client = admin(router);
    try {
      return (await client.print('/ip/firewall/filter')).map((row) => row.comment ?? '');
    } finally {
      await client.close();
    }
  };

  beforeAll(async () => {
    if (!enabled) return;
    routers = await startRouters(6);
    fleet = await startTestFederation({
      engine,
      overrides: {
        devices: {
          DEVICES_JOB_POLL_MS: '100',
          DEVICES_JOB_LEASE_MS: '2000',
          DEVICES_JOB_BACKOFF_MS: '200',
          DEVICES_JOB_MAX_BACKOFF_MS: '1000',
          DEVICES_ROUTER_CONNECT_TIMEOUT_MS: '1000',
          DEVICES_ROUTER_CALL_TIMEOUT_MS: '3000',
        },
      },
    });
    tenantId = await createTenant(fleet, 'Provisioned', 'provisioned');
    // More devices than the free plan allows.
    await choosePlan(fleet, tenantId, 'pro');
    const created = await fleet.asAdmin<{ createTemplate: { id: string } }>(
      'mutation($input: CreateTemplateInput!) { createTemplate(input: $input) { id } }',
      { input: { tenantId, name: 'edge', spec: SPEC, variables: [{ name: 'site', type: 'string' }] } },
    );
    templateId = created.data!.createTemplate.id;
  });

  afterAll(async () => {
    await fleet?.destroy();
    await routers?.close();
  });

  it.runIf(enabled)('applies and verifies; applied again, it changes nothing', async () => {
    const router = routers.inventory()[0]!;
    const deviceId = await enroll(router, 'r0');
    const queued = await apply(deviceId);
    expect(queued.status).toBe('queued');
    const first = await settled(queued.id);
    expect(first).toMatchObject({ status: 'succeeded', error: null, faults: [] });
    expect(first.summary!['/ip/firewall/filter']).toEqual({ add: 20 });
    expect(first.summary!['/system/identity']).toEqual({ set: 1 });
    expect(await filterComments(router)).toEqual(RULES.map((rule) => rule.comment));
    const plan = await fleet.asAdmin<{ planProvisioning: { empty: boolean } }>(PLAN, {
      d: deviceId,
      t: templateId,
      v: { site: 'ams' },
    });
    expect(plan.data!.planProvisioning.empty).toBe(true);
    const second = await settled((await apply(deviceId)).id);
    expect(second).toMatchObject({ status: 'succeeded', summary: {} });
    // Safe apply: the revert timer armed before the management changes was called off.
    expect(routers.routers[0]!.rows('/system/scheduler').map((row) => row.name)).toEqual([]);
  });

  it.runIf(enabled)(
    'leaves the revert on a router it can no longer reach after a management change',
    async () => {
      const router = routers.inventory()[4]!;
      const simulated = routers.routers[4]!;
      const deviceId = await enroll(router, 'r4');
      simulated.faults.latencyMs = 100;
      const queued = await apply(deviceId);
      // The moment the revert timer covers a firewall rule, the router drops off the network.
      await eventually(
        () =>
          Promise.resolve(
            simulated
              .rows('/system/scheduler')
              .some(
                (row) =>
                  row.name?.startsWith('fleet-revert-') &&
                  row['on-event']?.includes('/ip firewall filter remove'),
              )
              ? true
              : undefined,
          ),
        20_000,
      );
      simulated.setOffline(true);
      const failed = await settled(queued.id);
      simulated.setOffline(false);
      simulated.faults.latencyMs = 0;
      expect(failed.status).toBe('failed');
      expect(failed.error).toMatch(
        /^Lost access to the router after a change to its management access; it undoes the job's changes by itself within \d+ s$/,
      );
      const [timer] = simulated
        .rows('/system/scheduler')
        .filter((row) => row.name?.startsWith('fleet-revert-'));
      expect(timer).toBeDefined();
      // The revert removes its own entry, then undoes the changes, newest first.
      const script = timer!['on-event']!;
      expect(script.startsWith(`/system scheduler remove [find name="${timer!.name}"]`)).toBe(true);
      expect(script).toMatch(/:do \{ \/ip firewall filter remove \*[0-9A-F]+ \} on-error=\{\}/);
      expect(script).toContain('/ip service set');
    },
  );

  it.runIf(enabled)('refuses bad values before queuing anything', async () => {
    const deviceId = await enroll(routers.inventory()[1]!, 'r1');
    const refused = await fleet.asAdmin(APPLY, {
      d: deviceId,
      t: templateId,
      v: { site: 'x', colour: 'red' },
    });
    expect(refused.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'variables.colour' });
    const jobs = await fleet.asAdmin<{ jobs: unknown[] }>('query($d: ID!) { jobs(deviceId: $d) { id } }', {
      d: deviceId,
    });
    expect(jobs.data!.jobs).toEqual([]);
  });

  it.runIf(enabled)(
    'fails with the router’s own message when it refuses a change, recording what was done',
    async () => {
      const router = routers.inventory()[1]!;
      const deviceId = (
        await fleet.asAdmin<{ devices: { id: string; name: string }[] }>(
          'query($t: ID!) { devices(tenantId: $t) { id name } }',
          { t: tenantId },
        )
      ).data!.devices.find((device) => device.name === 'r1')!.id;
      // The eighth command the router gets is refused: after the plan's four reads, three changes.
      routers.routers[1]!.faults.trapOnCommand = 8;
      const failed = await settled((await apply(deviceId)).id);
      expect(failed.status).toBe('failed');
      expect(failed.error).toContain('simulated failure');
      expect(failed.faults).toHaveLength(1);
      expect(failed.faults[0]!.message).toContain('simulated failure');
      expect(failed.faults[0]!.changesDone.length).toBeGreaterThan(0);
      // The device is usable afterwards: a retry completes from where the router stands.
      const retried = await fleet.asAdmin<{ retryJob: Job }>(
        `mutation($id: ID!) { retryJob(id: $id) { ${JOB_FIELDS} } }`,
        {
          id: failed.id,
        },
      );
      expect(retried.data!.retryJob.status).toBe('queued');
      expect(await settled(failed.id)).toMatchObject({ status: 'succeeded' });
      expect(await filterComments(router)).toEqual(RULES.map((rule) => rule.comment));
    },
  );

  it.runIf(enabled)(
    'waits for an offline router instead of failing, and can be canceled meanwhile',
    async () => {
      const router = routers.inventory()[2]!;
      const deviceId = await enroll(router, 'r2');
      routers.routers[2]!.setOffline(true);
      const waiting = await apply(deviceId);
      await eventually(async () => ((await job(waiting.id)).status === 'waiting' ? true : undefined));
      routers.routers[2]!.setOffline(false);
      expect(await settled(waiting.id)).toMatchObject({ status: 'succeeded' });

      routers.routers[2]!.setOffline(true);
      const second = await apply(deviceId);
      await eventually(async () => ((await job(second.id)).status === 'waiting' ? true : undefined));
      const canceled = await fleet.asAdmin<{ cancelJob: Job }>(
        `mutation($id: ID!) { cancelJob(id: $id) { ${JOB_FIELDS} } }`,
        {
          id: second.id,
        },
      );
      // Waiting, it ends at once; if the cancel met one of its tries, it ends after that try.
      expect(['canceled', 'running']).toContain(canceled.data!.cancelJob.status);
      expect(await settled(second.id)).toMatchObject({ status: 'canceled' });
      routers.routers[2]!.setOffline(false);
    },
  );

  it.runIf(enabled)(
    'records cancels and retries in the audit trail with the person who asked, and no secret',
    async () => {
      const router = routers.inventory()[5]!;
      const deviceId = await enroll(router, 'r5');
      const cancel = async (id: string) =>
        (
          await fleet.asAdmin<{ cancelJob: Job }>(
            `mutation($id: ID!) { cancelJob(id: $id) { ${JOB_FIELDS} } }`,
            { id },
          )
        ).data!.cancelJob;
      // A running job: the cancel is a request, and the job stops before its next change.
      routers.routers[5]!.faults.latencyMs = 60;
      const running = await apply(deviceId);
      await eventually(async () => ((await filterComments(router)).length >= 3 ? true : undefined));
      expect((await cancel(running.id)).status).toBe('running');
      expect(await settled(running.id)).toMatchObject({ status: 'canceled' });
      routers.routers[5]!.faults.latencyMs = 0;
      // Retried while the router is offline, it waits, and is canceled there.
      routers.routers[5]!.setOffline(true);
      const retried = await fleet.asAdmin<{ retryJob: Job }>(
        `mutation($id: ID!) { retryJob(id: $id) { ${JOB_FIELDS} } }`,
        { id: running.id },
      );
      expect(retried.data!.retryJob.status).toBe('queued');
      await eventually(async () => ((await job(running.id)).status === 'waiting' ? true : undefined));
      // Waiting, it ends at once; a cancel that meets one of its tries is a request, as above.
      const whileWaiting = (await cancel(running.id)).status;
      expect(['canceled', 'running']).toContain(whileWaiting);
      expect(await settled(running.id)).toMatchObject({ status: 'canceled' });
      routers.routers[5]!.setOffline(false);

      const events = await eventually(async () => {
        const all = (await allAuditEvents(fleet)).filter((event) => event.aggregateId === running.id);
        return all.filter((event) => event.type === 'provisioning.job-canceled').length === 2
          ? all
          : undefined;
      });
      const asker = events[0]!.actor;
      expect(asker.kind).toBe('user');
      const system = { kind: 'system', id: null };
      const canceledWhileWaiting: [string, unknown, string][] =
        whileWaiting === 'canceled'
          ? [['provisioning.job-canceled', asker, 'canceled']]
          : // The try never reached the router, so it never recorded a start.
            [
              ['provisioning.job-cancel-requested', asker, 'running'],
              ['provisioning.job-canceled', system, 'canceled'],
            ];
      expect(events.map((event) => [event.type, event.actor, event.payload.status])).toEqual([
        ['provisioning.job-queued', asker, 'queued'],
        ['provisioning.job-started', system, 'running'],
        ['provisioning.job-cancel-requested', asker, 'running'],
        ['provisioning.job-canceled', system, 'canceled'],
        ['provisioning.job-retried', asker, 'queued'],
        ...canceledWhileWaiting,
      ]);
      for (const event of events) {
        expect(event.tenantId).toBe(tenantId);
        expect(event.payload).toMatchObject({ id: running.id, deviceId });
        expect(JSON.stringify(event)).not.toContain(router.password);
      }
    },
  );

  it.runIf(enabled)(
    'survives SIGKILL of the devices process mid-apply: resumed, complete, nothing twice',
    async () => {
      const router = routers.inventory()[3]!;
      const deviceId = await enroll(router, 'r3');
      routers.routers[3]!.faults.latencyMs = 60;
      const queued = await apply(deviceId);
      // Caught in the middle: some of the rules are in, not all.
      await eventually(async () => {
        const count = (await filterComments(router)).length;
        return count >= 3 && count < RULES.length ? true : undefined;
      });
      process.kill(fleet.pid('devices')!, 'SIGKILL');
      await eventually(() => Promise.resolve(fleet.pid('devices') === undefined ? true : undefined));
      routers.routers[3]!.faults.latencyMs = 0;
      await fleet.startService('devices');
      const resumed = await settled(queued.id, 60_000);
      expect(resumed.status).toBe('succeeded');
      expect(resumed.attempts).toBeGreaterThanOrEqual(2);
      // Every rule once, in the template's order: nothing was applied twice.
      expect(await filterComments(router)).toEqual(RULES.map((rule) => rule.comment));
    },
  );
});
