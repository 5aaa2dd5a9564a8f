import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allAuditEvents } from '../support/audit-events.js';
import { findInDatabase, findInFiles, findInLines } from '../support/pii-scan.js';
import { reach, startRouters, type Simulator } from '../support/routers.js';
import {
  createTenant,
  engineMatrix,
  eventually,
  startTestFederation,
  type TestFederation,
} from '../support/test-federation.js';

const PASSWORD = 'Router-pass 7f3a$;"\\ x';
const ROTATED = 'Rotated-pass 91c2!';

const CREATE = `mutation($input: CreateDeviceInput!) {
  createDevice(input: $input) { id name host port site tags tls { mode fingerprint } identity routerOsVersion board }
}`;
const DEVICES =
  'query($t: ID!, $site: String, $tag: String) { devices(tenantId: $t, site: $site, tag: $tag) { name } }';

interface CreatedDevice {
  id: string;
  name: string;
  identity: string;
  routerOsVersion: string;
  tls: { mode: string; fingerprint: string | null };
}

/**
 * Push enrollment through the gateway, against simulated routers over API-SSL: a device is stored
 * only once the platform got into the router with what it was given, and its credentials are
 * sealed: no API, log line, event or database row shows them.
 */
describe.each(await engineMatrix())('device enrollment on $engine', ({ engine, enabled }) => {
  let fleet: TestFederation;
  let routers: Simulator;
  let tenantId: string;
  const router = (i: number) => routers.inventory()[i]!;

  const create = (input: Record<string, unknown>) =>
    fleet.asAdmin<{ createDevice: CreatedDevice }>(CREATE, { input: { tenantId, ...input } });
  const names = async (filter: Record<string, string> = {}) =>
    (
      await fleet.asAdmin<{ devices: { name: string }[] }>(DEVICES, { t: tenantId, ...filter })
    ).data!.devices.map((device) => device.name);

  beforeAll(async () => {
    if (!enabled) return;
    routers = await startRouters([
      { name: 'core-router', version: '7.18', users: [{ name: 'fleet', password: PASSWORD, group: 'full' }] },
      {
        name: 'edge-router',
        version: '6.49',
        users: [
          { name: 'fleet', password: PASSWORD, group: 'full' },
          { name: 'fleet2', password: ROTATED, group: 'full' },
        ],
      },
    ]);
    fleet = await startTestFederation({
      engine,
      overrides: {
        devices: { DEVICES_ROUTER_CONNECT_TIMEOUT_MS: '2000' },
      },
    });
    tenantId = await createTenant(fleet, 'Enrolled Networks', 'enrolled');
  });

  afterAll(async () => {
    await fleet?.destroy();
    await routers?.close();
  });

  it.runIf(enabled)(
    'enrolls a router it reached, reading who it is; the credentials never come back',
    async () => {
      const core = await create({ name: 'core', ...reach(router(0)), site: 'HQ', tags: ['Core', 'pop:ams'] });
      expect(core.errors).toBeUndefined();
      expect(core.data!.createDevice).toMatchObject({
        name: 'core',
        identity: 'core-router',
        routerOsVersion: expect.stringMatching(/^7\.18/),
        tls: { mode: 'PINNED', fingerprint: router(0).fingerprint256 },
        site: 'HQ',
        tags: ['core', 'pop:ams'],
      });
      expect(JSON.stringify(core)).not.toContain(PASSWORD);
      const edge = await create({ name: 'edge', ...reach(router(1)), tags: ['edge'] });
      expect(edge.data!.createDevice.routerOsVersion).toMatch(/^6\.49/);
      expect(await names()).toEqual(['core', 'edge']);
      expect(await names({ site: 'HQ' })).toEqual(['core']);
      expect(await names({ tag: 'EDGE' })).toEqual(['edge']);
    },
  );

  it.runIf(enabled)('refuses what it cannot reach or log in to, saying why, and stores nothing', async () => {
    const before = await names();
    const wrongPassword = await create({ name: 'x1', ...reach(router(0)), password: 'not the password' });
    expect(wrongPassword.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'password' });
    expect(wrongPassword.errors?.[0]?.message).toBe('The router refused the username or password');

    const otherPin = await create({
      name: 'x2',
      ...reach(router(0)),
      tls: { mode: 'PINNED', fingerprint: 'AB'.repeat(32) },
    });
    expect(otherPin.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'host' });
    expect(otherPin.errors?.[0]?.message).toMatch(/^Could not reach the router's API at 127\.0\.0\.1:\d+: /);

    // A loopback port where nothing listens (the router's plain API is closed to TLS clients).
    const closed = await create({ name: 'x3', ...reach(router(0)), port: 9 });
    expect(closed.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'host' });

    // Outside the networks the service may reach: refused before any connection.
    for (const host of ['169.254.169.254', '192.0.2.1', '8.8.8.8']) {
      const outside = await create({ name: 'x4', ...reach(router(0)), host });
      expect(outside.errors?.[0]?.message).toBe('host is not in a network this service may reach routers in');
    }
    const bad = [
      [{ tls: { mode: 'PINNED', fingerprint: 'abc' } }, 'tls.fingerprint'],
      [{ tls: { mode: 'VERIFY' } }, 'tls.ca'],
      [{ tls: { mode: 'VERIFY', ca: 'not a certificate' } }, 'tls.ca'],
      [{ username: '' }, 'username'],
      [{ password: 'a\nb' }, 'password'],
      [{ tags: ['no spaces'] }, 'tags'],
      [{ site: 'x'.repeat(65) }, 'site'],
    ] as const;
    for (const [change, field] of bad) {
      const result = await create({ name: 'x5', ...reach(router(0)), ...change });
      expect(result.errors?.[0]?.extensions, field).toEqual({ code: 'BAD_USER_INPUT', field });
      expect(result.errors?.[0]?.message ?? '').not.toContain('a\nb');
    }
    expect(await names()).toEqual(before);
  });

  it.runIf(enabled)('rotates credentials only to ones the router accepts', async () => {
    const edgeId = (
      await fleet.asAdmin<{ devices: { id: string; name: string }[] }>(
        'query($t: ID!) { devices(tenantId: $t) { id name } }',
        {
          t: tenantId,
        },
      )
    ).data!.devices.find((device) => device.name === 'edge')!.id;
    const rotate = (username: string, password: string) =>
      fleet.asAdmin<{ rotateDeviceCredentials: { id: string } }>(
        'mutation($id: ID!, $u: String!, $p: String!) { rotateDeviceCredentials(id: $id, username: $u, password: $p) { id } }',
        { id: edgeId, u: username, p: password },
      );
    const refused = await rotate('fleet2', 'wrong');
    expect(refused.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'password' });
    const rotated = await rotate('fleet2', ROTATED);
    expect(rotated.errors).toBeUndefined();
    expect(JSON.stringify(rotated)).not.toContain(ROTATED);
    const unknown = await fleet.asAdmin(
      'mutation { rotateDeviceCredentials(id: "00000000-0000-4000-8000-000000000000", username: "a", password: "b") { id } }',
    );
    expect(unknown.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });

  it.runIf(enabled)(
    'renames a device and changes its site and tags, names unique in the tenant',
    async () => {
      const ids = Object.fromEntries(
        (
          await fleet.asAdmin<{ devices: { id: string; name: string }[] }>(
            'query($t: ID!) { devices(tenantId: $t) { id name } }',
            { t: tenantId },
          )
        ).data!.devices.map((device) => [device.name, device.id]),
      );
      const update = (id: string, input: Record<string, unknown>) =>
        fleet.asAdmin<{ updateDevice: { name: string; site: string | null; tags: string[]; host: string } }>(
          'mutation($id: ID!, $input: UpdateDeviceInput!) { updateDevice(id: $id, input: $input) { name site tags host } }',
          { id, input },
        );
      const moved = await update(ids.core!, { name: 'core-ams', site: 'AMS', tags: ['Core'] });
      expect(moved.data?.updateDevice).toEqual({
        name: 'core-ams',
        site: 'AMS',
        tags: ['core'],
        host: router(0).host,
      });
      expect(await names({ site: 'AMS' })).toEqual(['core-ams']);
      const taken = await update(ids.core!, { name: 'edge' });
      expect(taken.errors?.[0]).toMatchObject({
        message: 'A device named "edge" exists already in this tenant',
        extensions: { code: 'CONFLICT', field: 'name' },
      });
      expect((await update(ids.core!, { name: 'core', site: 'HQ' })).errors).toBeUndefined();
      expect(await names({ site: 'HQ' })).toEqual(['core']);
    },
  );

  it.runIf(enabled)('holds the quota under concurrent enrollment, and frees a place on removal', async () => {
    // Two devices exist; the free plan allows five: of 20 parallel enrollments, exactly three get in.
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => create({ name: `burst-${i}`, ...reach(router(i % 2)) })),
    );
    const admitted = results.filter((result) => !result.errors);
    expect(admitted).toHaveLength(3);
    for (const result of results.filter((r) => r.errors)) {
      expect(result.errors?.[0]?.extensions).toEqual({ code: 'CONFLICT', field: 'tenantId' });
      expect(result.errors?.[0]?.message).toBe(
        "The tenant's plan allows 5 devices and it has 5; remove a device or choose a larger plan",
      );
    }
    const removed = await fleet.asAdmin<{ removeDevice: boolean }>(
      'mutation($id: ID!) { removeDevice(id: $id) }',
      {
        id: admitted[0]!.data!.createDevice.id,
      },
    );
    expect(removed.data).toEqual({ removeDevice: true });
    expect((await create({ name: 'after-removal', ...reach(router(0)) })).errors).toBeUndefined();
  });

  it.runIf(enabled)(
    'records devices in the audit trail without a secret, and stores none in the clear',
    async () => {
      const events = await eventually(async () => {
        const all = await allAuditEvents(fleet);
        const types = all.filter((event) => event.tenantId === tenantId).map((event) => event.type);
        return types.includes('device.removed') &&
          types.includes('device.credentials-rotated') &&
          types.includes('device.updated')
          ? all
          : undefined;
      }, 20_000);
      const created = events.find(
        (event) => event.type === 'device.created' && event.payload.name === 'core',
      )!;
      expect(created.payload).toMatchObject({ identity: 'core-router', tlsMode: 'pinned', site: 'HQ' });
      const moved = events.find((event) => event.type === 'device.updated')!;
      expect(moved.payload).toMatchObject({ name: 'core-ams', site: 'AMS', identity: 'core-router' });
      const secrets = [PASSWORD, ROTATED];
      expect(
        findInLines(
          events.map((event) => JSON.stringify(event)),
          secrets,
        ),
      ).toEqual([]);
      await fleet.stop();
      for (const service of ['gateway', 'aaa', 'devices', 'billing', 'audit'] as const) {
        expect(findInLines(fleet.logs(service), secrets), service).toEqual([]);
      }
      if (engine === 'pglite') {
        expect(await findInFiles(fleet.dataDir, secrets)).toEqual([]);
        // The scan sees what is stored: the router's identity is there, in the clear.
        expect(
          (await findInFiles(fleet.dataDir, ['core-router'])).some((file) => file.includes('/devices/')),
        ).toBe(true);
      } else {
        expect(await findInDatabase(fleet.databases.devices!.url, secrets)).toEqual([]);
        expect(await findInDatabase(fleet.databases.devices!.url, ['core-router'])).not.toEqual([]);
      }
    },
  );
});
