import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allAuditEvents } from '../support/audit-events.js';
import { addMember, bearer, signIn } from '../support/identities.js';
import { reach, startRouters, type Simulator } from '../support/routers.js';
import {
  choosePlan,
  createTenant,
  engineMatrix,
  eventually,
  startTestFederation,
  type TestFederation,
} from '../support/test-federation.js';

interface Counts {
  devices: number;
  notQueued: number;
  queued: number;
  waiting: number;
  running: number;
  succeeded: number;
  failed: number;
  canceled: number;
}

interface RolloutJob {
  id: string;
  status: string;
  error: string | null;
  createdAt: string;
  finishedAt: string | null;
  rolloutStage: number;
  rollout: { id: string };
  device: { id: string; name: string };
}

interface Rollout {
  id: string;
  status: string;
  reason: string | null;
  version: number;
  currentStage: number;
  stageCount: number;
  policy: Record<string, number | null>;
  counts: Counts;
  stages: { number: number; devices: { name: string }[]; counts: Counts; queuedAt: string | null }[];
  jobs: RolloutJob[];
}

const zero: Counts = {
  devices: 0,
  notQueued: 0,
  queued: 0,
  waiting: 0,
  running: 0,
  succeeded: 0,
  failed: 0,
  canceled: 0,
};

const COUNTS = 'devices notQueued queued waiting running succeeded failed canceled';
const ROLLOUT_FIELDS = `id status reason version currentStage stageCount
  policy { canarySize batchSize maxFailures maxFailurePercent stageTimeoutSeconds }
  counts { ${COUNTS} }
  stages { number devices { name } counts { ${COUNTS} } queuedAt }
  jobs { id status error createdAt finishedAt rolloutStage rollout { id } device { id name } }`;
const APPLY_BULK = `mutation($input: ApplyProvisioningBulkInput!) { applyProvisioningBulk(input: $input) { ${ROLLOUT_FIELDS} } }`;
const ROLLOUT = `query($id: ID!) { rollout(id: $id) { ${ROLLOUT_FIELDS} } }`;
const CANCEL = `mutation($id: ID!) { cancelRollout(id: $id) { ${ROLLOUT_FIELDS} } }`;
const RESUME = `mutation($id: ID!) { resumeRollout(id: $id) { ${ROLLOUT_FIELDS} } }`;
const ROLLOUTS = 'query($t: ID!) { rollouts(tenantId: $t) { id status } }';
const DEVICE_JOBS = 'query($d: ID!) { jobs(deviceId: $d) { id status attempts summary } }';
const APPLY_ONE =
  'mutation($d: ID!, $t: ID!, $v: JSON) { applyProvisioning(deviceId: $d, templateId: $t, variables: $v) { id } }';
const JOB = 'query($id: ID!) { job(id: $id) { status } }';

const SPEC = {
  identity: { name: '${site}-${unit}' },
  dns: { servers: ['9.9.9.9'], allowRemoteRequests: false },
};
/** The canary's router refuses the plan's first change: the command after its two reads. */
const FIRST_CHANGE = 3;

const ENDED = ['halted', 'succeeded', 'completed-with-failures', 'canceled'];

/** The routers of each test, by tag: index in the simulator, device name. */
const GROUPS = {
  wave: 6,
  halt: 3,
  tolerant: 3,
  deadline: 3,
  cancel: 2,
  restart: 3,
} as const;
type Group = keyof typeof GROUPS;

/**
 * Bulk apply as a staged rollout, through the gateway against simulated routers: stage by stage,
 * halting past the failure threshold, going on within it, holding a stage for an offline device
 * until its deadline, refusing bad values before anything is queued, canceled, kept from other
 * tenants, and carried on after the devices process is killed.
 */
describe.each(await engineMatrix())('rollouts on $engine', ({ engine, enabled }) => {
  let fleet: TestFederation;
  let routers: Simulator;
  let tenantId: string;
  let templateId: string;
  /** Per group, in name order: the device's id and name and its simulated router. */
  const devices = {} as Record<Group, { id: string; name: string; router: number }[]>;

  const rollout = async (id: string) =>
    (await fleet.asAdmin<{ rollout: Rollout }>(ROLLOUT, { id })).data!.rollout;
  const ended = (id: string, timeoutMs = 60_000) =>
    eventually(async () => {
      const current = await rollout(id);
      return ENDED.includes(current.status) ? current : undefined;
    }, timeoutMs);
  const start = async (tag: Group, extra: Record<string, unknown> = {}) => {
    const result = await fleet.asAdmin<{ applyProvisioningBulk: Rollout }>(APPLY_BULK, {
      input: { tenantId, templateId, tag, variables: { site: tag }, ...extra },
    });
    expect(result.errors).toBeUndefined();
    return result.data!.applyProvisioningBulk;
  };
  /** Each device's own unit number, keyed by name. */
  const units = (group: Group) =>
    Object.fromEntries(devices[group].map((device, index) => [device.name, { unit: index + 1 }]));
  const identity = (router: number) => routers.routers[router]!.rows('/system/identity')[0]?.name;
  const jobsOf = async (deviceId: string) =>
    (
      await fleet.asAdmin<{ jobs: { id: string; status: string; attempts: number; summary: unknown }[] }>(
        DEVICE_JOBS,
        { d: deviceId },
      )
    ).data!.jobs;

  beforeAll(async () => {
    if (!enabled) return;
    const total = Object.values(GROUPS).reduce((sum, count) => sum + count, 0);
    routers = await startRouters(total);
    fleet = await startTestFederation({
      engine,
      overrides: {
        devices: {
          DEVICES_JOB_POLL_MS: '100',
          DEVICES_ROLLOUT_POLL_MS: '100',
          DEVICES_JOB_LEASE_MS: '2000',
          DEVICES_JOB_BACKOFF_MS: '200',
          DEVICES_JOB_MAX_BACKOFF_MS: '1000',
          DEVICES_ROUTER_CONNECT_TIMEOUT_MS: '1000',
          DEVICES_ROUTER_CALL_TIMEOUT_MS: '3000',
        },
      },
    });
    tenantId = await createTenant(fleet, 'Rolled out', 'rolled-out');
    // More devices than the free plan allows.
    await choosePlan(fleet, tenantId, 'pro');
    const created = await fleet.asAdmin<{ createTemplate: { id: string } }>(
      'mutation($input: CreateTemplateInput!) { createTemplate(input: $input) { id } }',
      {
        input: {
          tenantId,
          name: 'branch',
          spec: SPEC,
          variables: [
            { name: 'site', type: 'string' },
            { name: 'unit', type: 'integer' },
          ],
        },
      },
    );
    templateId = created.data!.createTemplate.id;
    let router = 0;
    for (const [group, count] of Object.entries(GROUPS) as [Group, number][]) {
      devices[group] = [];
      for (let index = 0; index < count; index++, router++) {
        // Enrolled out of name order: the rollout takes them by name all the same.
        const name = `${group}-${String.fromCharCode(97 + count - 1 - index)}`;
        const enrolled = await fleet.asAdmin<{ createDevice: { id: string } }>(
          'mutation($input: CreateDeviceInput!) { createDevice(input: $input) { id } }',
          { input: { tenantId, name, tags: [group], ...reach(routers.inventory()[router]!) } },
        );
        expect(enrolled.errors).toBeUndefined();
        devices[group].push({ id: enrolled.data!.createDevice.id, name, router });
      }
      devices[group].sort((a, b) => a.name.localeCompare(b.name));
    }
  });

  afterAll(async () => {
    await fleet?.destroy();
    await routers?.close();
  });

  it.runIf(enabled)('refuses the whole request for one bad value, and queues nothing', async () => {
    const [first, second] = devices.wave;
    const refusals: [Record<string, unknown>, string, string][] = [
      [
        {
          tag: 'wave',
          variables: { site: 'ams' },
          deviceVariables: { ...units('wave'), [second!.name]: { unit: 'x' } },
        },
        `deviceVariables.${second!.name}.unit`,
        `device ${second!.name}: unit must be a whole number`,
      ],
      [
        // Keyed by id, the error names the key it was given.
        { tag: 'wave', variables: { site: 'ams' }, deviceVariables: { [first!.id]: {} } },
        `deviceVariables.${first!.id}.unit`,
        `device ${first!.name}: unit is required`,
      ],
      [
        { tag: 'wave', variables: { site: 'ams', unit: 'many' } },
        'variables.unit',
        `device ${first!.name}: unit must be a whole number`,
      ],
      [
        { tag: 'wave', variables: { site: 'ams', unit: 1 }, deviceVariables: { 'halt-a': { unit: 2 } } },
        'deviceVariables.halt-a',
        'no selected device has the id or name halt-a',
      ],
      [
        { tag: 'nowhere', variables: { site: 'ams', unit: 1 } },
        'tag',
        'no device of the tenant is tagged nowhere',
      ],
      [{ variables: { site: 'ams', unit: 1 } }, 'site', 'choose the devices by a site, a tag or both'],
      [
        {
          tag: 'wave',
          variables: { site: 'ams', unit: 1 },
          policy: { maxFailures: 1, maxFailurePercent: 10 },
        },
        'policy.maxFailurePercent',
        'give the failure threshold as maxFailures or as maxFailurePercent, not both',
      ],
      [
        { tag: 'wave', variables: { site: 'ams', unit: 1 }, policy: { batchSize: 0 } },
        'policy.batchSize',
        'batchSize must be a whole number from 1 to 1000',
      ],
    ];
    for (const [input, field, message] of refusals) {
      const refused = await fleet.asAdmin(APPLY_BULK, { input: { tenantId, templateId, ...input } });
      expect(refused.errors?.[0]?.extensions, field).toEqual({ code: 'BAD_USER_INPUT', field });
      expect(refused.errors?.[0]?.message).toBe(message);
    }
    const listed = await fleet.asAdmin<{ rollouts: unknown[] }>(ROLLOUTS, { t: tenantId });
    expect(listed.data!.rollouts).toEqual([]);
    for (const device of devices.wave) expect(await jobsOf(device.id)).toEqual([]);
  });

  it.runIf(enabled)(
    'runs the canary, then batches, each stage once the one before has ended, to the desired state',
    async () => {
      const [first, second] = devices.wave;
      // Values by name, and one by id.
      const own: Record<string, { unit: number }> = units('wave');
      delete own[second!.name];
      own[second!.id] = { unit: 2 };
      const started = await start('wave', {
        deviceVariables: own,
        policy: { canarySize: 1, batchSize: 2 },
      });
      expect(started).toMatchObject({
        status: 'running',
        version: 1,
        currentStage: 1,
        stageCount: 4,
        policy: {
          canarySize: 1,
          batchSize: 2,
          maxFailures: 0,
          maxFailurePercent: null,
          stageTimeoutSeconds: 3600,
        },
      });
      // Only the canary is queued; the others wait for it.
      expect(started.jobs.map((job) => job.device.name)).toEqual([first!.name]);
      expect(started.stages.map((stage) => stage.devices.map((device) => device.name))).toEqual([
        [first!.name],
        [second!.name, devices.wave[2]!.name],
        [devices.wave[3]!.name, devices.wave[4]!.name],
        [devices.wave[5]!.name],
      ]);
      expect(started.stages.map((stage) => stage.counts.notQueued)).toEqual([0, 2, 2, 1]);

      const done = await ended(started.id);
      expect(done.status).toBe('succeeded');
      expect(done.reason).toBeNull();
      expect(done.counts).toEqual({ ...zero, devices: 6, succeeded: 6 });
      expect(done.jobs.map((job) => [job.device.name, job.rolloutStage, job.status])).toEqual(
        devices.wave.map((device, index) => [
          device.name,
          index === 0 ? 1 : 2 + Math.floor((index - 1) / 2),
          'succeeded',
        ]),
      );
      for (const job of done.jobs) expect(job.rollout.id).toBe(done.id);
      // Every stage's jobs were queued after every job of the stage before had finished.
      for (const stage of [2, 3, 4]) {
        const before = done.jobs.filter((job) => job.rolloutStage === stage - 1);
        const these = done.jobs.filter((job) => job.rolloutStage === stage);
        const lastFinished = Math.max(...before.map((job) => Date.parse(job.finishedAt!)));
        for (const job of these) expect(Date.parse(job.createdAt)).toBeGreaterThanOrEqual(lastFinished);
      }
      devices.wave.forEach((device, index) => {
        expect(identity(device.router)).toBe(`wave-${index + 1}`);
        expect(routers.routers[device.router]!.rows('/ip/dns')[0]?.servers).toBe('9.9.9.9');
      });
      // Once each: no device got a second job.
      for (const device of devices.wave) expect(await jobsOf(device.id)).toHaveLength(1);

      const events = await eventually(async () => {
        const all = (await allAuditEvents(fleet)).filter((event) => event.aggregateId === done.id);
        return all.some((event) => event.type === 'rollout.succeeded') ? all : undefined;
      });
      expect(events.map((event) => [event.type, event.payload.stage])).toEqual([
        ['rollout.started', 1],
        ['rollout.stage-started', 1],
        ['rollout.stage-started', 2],
        ['rollout.stage-started', 3],
        ['rollout.stage-started', 4],
        ['rollout.succeeded', 4],
      ]);
      expect(events.at(-1)!.payload.counts).toEqual({ ...zero, devices: 6, succeeded: 6 });
      const password = routers.inventory()[first!.router]!.password;
      for (const event of events) expect(JSON.stringify(event.payload)).not.toContain(password);
    },
  );

  it.runIf(enabled)(
    "halts when the canary's router refuses, never queuing the others, until resumed",
    async () => {
      const [canary, ...others] = devices.halt;
      routers.routers[canary!.router]!.faults.trapOnCommand = FIRST_CHANGE;
      const done = await ended(
        (await start('halt', { deviceVariables: units('halt'), policy: { batchSize: 2 } })).id,
      );
      expect(done.status).toBe('halted');
      expect(done.reason).toBe('Stage 1: 1 of the 1 devices queued so far failed, more than the 0 allowed');
      expect(done.jobs).toHaveLength(1);
      expect(done.jobs[0]).toMatchObject({ status: 'failed', device: { name: canary!.name } });
      expect(done.jobs[0]!.error).toContain('simulated failure');
      expect(done.counts).toEqual({ ...zero, devices: 3, failed: 1, notQueued: 2 });
      expect(done.stages[1]!.queuedAt).toBeNull();
      for (const device of others) {
        expect(await jobsOf(device.id)).toEqual([]);
        expect(identity(device.router)).not.toMatch(/^halt-/);
      }

      // The router takes changes again: resumed, the canary's job is queued again, and on it goes.
      const resumed = await fleet.asAdmin<{ resumeRollout: Rollout }>(RESUME, { id: done.id });
      expect(resumed.errors).toBeUndefined();
      expect(resumed.data!.resumeRollout).toMatchObject({ status: 'running', reason: null, currentStage: 1 });
      expect(resumed.data!.resumeRollout.jobs).toMatchObject([
        { status: 'queued', device: { name: canary!.name } },
      ]);
      const finished = await ended(done.id);
      expect(finished.status).toBe('succeeded');
      expect(finished.counts).toEqual({ ...zero, devices: 3, succeeded: 3 });
      devices.halt.forEach((device, index) => expect(identity(device.router)).toBe(`halt-${index + 1}`));
      const again = await fleet.asAdmin(RESUME, { id: done.id });
      expect(again.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'id' });
      expect(again.errors?.[0]?.message).toBe('Only a halted rollout can be resumed; this one is succeeded');
    },
  );

  it.runIf(enabled)('goes on past a failure the threshold tolerates', async () => {
    const [canary] = devices.tolerant;
    routers.routers[canary!.router]!.faults.trapOnCommand = FIRST_CHANGE;
    const done = await ended(
      (
        await start('tolerant', {
          deviceVariables: units('tolerant'),
          policy: { maxFailures: 1, batchSize: 2 },
        })
      ).id,
    );
    expect(done.status).toBe('completed-with-failures');
    expect(done.reason).toBeNull();
    expect(done.counts).toEqual({ ...zero, devices: 3, failed: 1, succeeded: 2 });
    expect(done.jobs.map((job) => job.status)).toEqual(['failed', 'succeeded', 'succeeded']);
    expect(identity(devices.tolerant[2]!.router)).toBe('tolerant-3');
  });

  it.runIf(enabled)(
    'holds a stage for an offline device until its deadline, which counts the device as failed',
    async () => {
      const [canary] = devices.deadline;
      const offline = routers.routers[canary!.router]!;
      offline.setOffline(true);
      try {
        const started = await start('deadline', {
          deviceVariables: units('deadline'),
          policy: { maxFailures: 1, batchSize: 2, stageTimeoutSeconds: 5 },
        });
        const holding = await eventually(async () => {
          const current = await rollout(started.id);
          return current.jobs[0]?.status === 'waiting' ? current : undefined;
        });
        // While the canary waits for its router, its stage holds: nothing else is queued.
        expect(holding).toMatchObject({ status: 'running', currentStage: 1 });
        expect(holding.counts).toEqual({ ...zero, devices: 3, waiting: 1, notQueued: 2 });
        const done = await ended(started.id);
        expect(done.status).toBe('completed-with-failures');
        expect(done.jobs[0]).toMatchObject({
          status: 'canceled',
          error: "The rollout's stage deadline passed before the job could run",
        });
        expect(done.counts).toEqual({ ...zero, devices: 3, canceled: 1, succeeded: 2 });
      } finally {
        offline.setOffline(false);
      }
    },
  );

  it.runIf(enabled)('is canceled with its waiting jobs, and kept from another tenant', async () => {
    const [canary, other] = devices.cancel;
    const offline = routers.routers[canary!.router]!;
    offline.setOffline(true);
    try {
      const started = await start('cancel', { deviceVariables: units('cancel') });
      await eventually(async () =>
        (await rollout(started.id)).jobs[0]?.status === 'waiting' ? true : undefined,
      );

      const outsiderTenant = await createTenant(fleet, 'Outsider', 'outsider');
      const outsider = await addMember(
        fleet,
        { id: outsiderTenant, slug: 'outsider' },
        { email: 'owner@outsider.example', fullName: 'Owner', roles: ['owner'] },
      );
      const token = bearer((await signIn(fleet, outsider)).accessToken);
      const seen = await fleet.graphql<{ rollout: unknown }>(ROLLOUT, { id: started.id }, token);
      expect(seen.errors).toBeUndefined();
      expect(seen.data).toEqual({ rollout: null });
      const listed = await fleet.graphql(ROLLOUTS, { t: tenantId }, token);
      expect(listed.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      for (const mutation of [CANCEL, RESUME]) {
        const refused = await fleet.graphql(mutation, { id: started.id }, token);
        expect(refused.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
      }
      const elsewhere = await fleet.graphql(
        APPLY_BULK,
        { input: { tenantId, templateId, tag: 'cancel', variables: { site: 'x', unit: 1 } } },
        token,
      );
      expect(elsewhere.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      expect((await rollout(started.id)).status).toBe('running');
      // A device is in one running rollout at a time.
      const overlapping = await fleet.asAdmin(APPLY_BULK, {
        input: { tenantId, templateId, tag: 'cancel', variables: { site: 'x', unit: 1 } },
      });
      expect(overlapping.errors?.[0]?.extensions).toEqual({ code: 'CONFLICT', field: 'tag' });
      expect(overlapping.errors?.[0]?.message).toBe(
        `device ${canary!.name} is in rollout ${started.id}, still running`,
      );

      // The router now takes connections and never answers: each try of the canary lasts until
      // it times out. Canceled during one, the job makes no change and ends canceled after it.
      offline.faults.hang = true;
      offline.setOffline(false);
      await eventually(async () =>
        (await rollout(started.id)).jobs[0]?.status === 'running' ? true : undefined,
      );
      const canceled = await fleet.asAdmin<{ cancelRollout: Rollout }>(CANCEL, { id: started.id });
      expect(canceled.errors).toBeUndefined();
      expect(canceled.data!.cancelRollout).toMatchObject({ status: 'canceled', reason: 'Canceled' });
      // Mid-try as a rule; if the try ended just before, the job was waiting and is canceled at once.
      const [answered] = canceled.data!.cancelRollout.jobs;
      expect(answered).toMatchObject({ error: 'The rollout was canceled' });
      expect(['running', 'canceled']).toContain(answered!.status);
      expect(canceled.data!.cancelRollout.counts).toEqual({
        ...zero,
        devices: 2,
        notQueued: 1,
        [answered!.status]: 1,
      });
      const over = await eventually(async () => {
        const current = await rollout(started.id);
        return current.jobs[0]?.status === 'canceled' ? current : undefined;
      });
      expect(over).toMatchObject({ status: 'canceled', reason: 'Canceled' });
      expect(over.jobs).toMatchObject([{ status: 'canceled', error: 'The rollout was canceled' }]);
      expect(over.counts).toEqual({ ...zero, devices: 2, canceled: 1, notQueued: 1 });
      const [canceledJob] = await jobsOf(canary!.id);
      expect(canceledJob).toMatchObject({ id: over.jobs[0]!.id, status: 'canceled' });
      // It made no change: its summary, if its last try got to one, counts none.
      expect(canceledJob!.summary ?? {}).toEqual({});
      // Nothing is applied once the router answers again: a job queued after the canceled one
      // runs on the device, and the canceled one is never tried again.
      offline.faults.hang = false;
      const after = await fleet.asAdmin<{ applyProvisioning: { id: string } }>(APPLY_ONE, {
        d: canary!.id,
        t: templateId,
        v: { site: 'after', unit: 1 },
      });
      expect(after.errors).toBeUndefined();
      await eventually(async () => {
        const { status } = (
          await fleet.asAdmin<{ job: { status: string } }>(JOB, {
            id: after.data!.applyProvisioning.id,
          })
        ).data!.job;
        return status === 'succeeded' ? true : undefined;
      });
      expect(identity(canary!.router)).toBe('after-1');
      expect(await jobsOf(canary!.id)).toContainEqual(canceledJob);
      const again = await fleet.asAdmin(CANCEL, { id: started.id });
      expect(again.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'id' });
      expect(again.errors?.[0]?.message).toBe('The rollout is canceled already');
      expect(await jobsOf(other!.id)).toEqual([]);
      const mine = await fleet.asAdmin<{ rollouts: { id: string; status: string }[] }>(ROLLOUTS, {
        t: tenantId,
      });
      expect(mine.data!.rollouts[0]).toEqual({ id: started.id, status: 'canceled' });
    } finally {
      offline.faults.hang = false;
      offline.setOffline(false);
    }
  });

  it.runIf(enabled)('carries on after the devices process is killed mid-rollout', async () => {
    for (const device of devices.restart) routers.routers[device.router]!.faults.latencyMs = 100;
    const started = await start('restart', { deviceVariables: units('restart'), policy: { batchSize: 1 } });
    await eventually(async () => ((await rollout(started.id)).currentStage >= 2 ? true : undefined));
    process.kill(fleet.pid('devices')!, 'SIGKILL');
    await eventually(() => Promise.resolve(fleet.pid('devices') === undefined ? true : undefined));
    for (const device of devices.restart) routers.routers[device.router]!.faults.latencyMs = 0;
    await fleet.startService('devices');
    const done = await ended(started.id);
    expect(done.status).toBe('succeeded');
    expect(done.counts).toEqual({ ...zero, devices: 3, succeeded: 3 });
    for (const [index, device] of devices.restart.entries()) {
      expect(await jobsOf(device.id)).toHaveLength(1);
      expect(identity(device.router)).toBe(`restart-${index + 1}`);
    }
  });
});
