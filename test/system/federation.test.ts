import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTenant,
  engineMatrix,
  eventually,
  startTestFederation,
  type TestFederation,
} from '../support/test-federation.js';
import { reach, startRouters, type Simulator } from '../support/routers.js';

const CREATE_DEVICE = 'mutation($input: CreateDeviceInput!) { createDevice(input: $input) { id } }';

const DEVICE_VIEW = `
  query Device($id: ID!) {
    device(id: $id) {
      id
      name
      tenant { id name slug plan { id name deviceQuota } }
      history { type sequence aggregateId hash previousHash }
    }
  }`;

describe.each(await engineMatrix())('the federation on $engine', ({ engine, enabled }) => {
  let fleet: TestFederation;
  let tenantId: string;
  let routers: Simulator;
  const router = () => reach(routers.inventory()[0]!);

  beforeAll(async () => {
    if (!enabled) return;
    routers = await startRouters(1);
    fleet = await startTestFederation({ engine });
    tenantId = await createTenant(fleet, 'Acme Networks', 'acme');
  });

  afterAll(async () => {
    await fleet?.destroy();
    await routers?.close();
  });

  it.runIf(enabled)('answers one query from four subgraphs', async () => {
    await fleet.asAdmin('mutation($t: ID!) { changeTenantPlan(tenantId: $t, planId: "pro") { id } }', {
      t: tenantId,
    });
    const created = await fleet.asAdmin<{ createDevice: { id: string } }>(CREATE_DEVICE, {
      input: { tenantId, name: 'core-1', ...router() },
    });
    expect(created.errors).toBeUndefined();
    const deviceId = created.data!.createDevice.id;

    const view = await eventually(async () => {
      const result = await fleet.asAdmin<{ device: { history: unknown[] } }>(DEVICE_VIEW, { id: deviceId });
      return result.data?.device.history.length ? result : undefined;
    });
    expect(view.errors).toBeUndefined();
    expect(view.data).toEqual({
      device: {
        id: deviceId,
        name: 'core-1',
        // aaa
        tenant: {
          id: tenantId,
          name: 'Acme Networks',
          slug: 'acme',
          // billing
          plan: { id: 'pro', name: 'Pro', deviceQuota: 100 },
        },
        // audit
        history: [
          {
            type: 'device.created',
            sequence: 1,
            aggregateId: deviceId,
            hash: expect.stringMatching(/^[0-9a-f]{64}$/),
            previousHash: expect.stringMatching(/^[0-9a-f]{64}$/),
          },
        ],
      },
    });
  });

  it.runIf(enabled)('carries the request id from the gateway into every subgraph call', async () => {
    const requestId = `trace-${Date.now()}`;
    const result = await fleet.asAdmin(
      'query($t: ID!) { tenant(id: $t) { name plan { name } devices { name } } }',
      { t: tenantId },
      { 'x-request-id': requestId },
    );
    expect(result.errors).toBeUndefined();
    // Log lines are written asynchronously: wait for them rather than race them.
    for (const service of ['aaa', 'billing', 'devices'] as const) {
      await eventually(() =>
        Promise.resolve(fleet.logs(service).some((l) => l.includes(requestId)) || undefined),
      );
    }
  });

  it.runIf(enabled)('refuses bad input with the field named, and changes nothing', async () => {
    const before = await fleet.asAdmin<{ devices: unknown[] }>(
      'query($t: ID!) { devices(tenantId: $t) { id } }',
      {
        t: tenantId,
      },
    );
    const cases = [
      { input: { tenantId, ...router(), name: '' }, field: 'name' },
      { input: { tenantId, ...router(), name: 'edge', host: 'not a host!' }, field: 'host' },
      { input: { tenantId, ...router(), name: 'edge', port: 70000 }, field: 'port' },
      { input: { ...router(), tenantId: 'not-a-uuid', name: 'edge' }, field: 'tenantId' },
    ];
    for (const { input, field } of cases) {
      const result = await fleet.asAdmin(
        'mutation($input: CreateDeviceInput!) { createDevice(input: $input) { id } }',
        { input },
      );
      expect(result.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', field });
    }
    const after = await fleet.asAdmin<{ devices: unknown[] }>(
      'query($t: ID!) { devices(tenantId: $t) { id } }',
      {
        t: tenantId,
      },
    );
    expect(after.data!.devices).toHaveLength(before.data!.devices.length);
  });

  it.runIf(enabled)('refuses a duplicate device name with a conflict', async () => {
    const create = () => fleet.asAdmin(CREATE_DEVICE, { input: { tenantId, name: 'dup', ...router() } });
    expect((await create()).errors).toBeUndefined();
    const second = await create();
    expect(second.errors?.[0]?.extensions).toEqual({ code: 'CONFLICT', field: 'name' });
  });

  it.runIf(enabled)('answers malformed JSON and mutations by GET with 400, changing nothing', async () => {
    const malformed = await fleet.fetch(fleet.gatewayUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"query": "mutation {',
    });
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toEqual({
      errors: [{ message: 'Malformed JSON in request body', extensions: { code: 'BAD_REQUEST' } }],
    });

    const query = encodeURIComponent(
      'mutation { createTenant(input: { name: "Via GET", slug: "via-get" }) { id } }',
    );
    const byGet = await fleet.fetch(`${fleet.gatewayUrl}?query=${query}`, {
      headers: { 'apollo-require-preflight': '1' },
    });
    expect(byGet.status).toBe(400);
    const tenants = await fleet.asAdmin<{ tenants: { slug: string }[] }>('{ tenants { slug } }');
    expect(tenants.data!.tenants.map((t) => t.slug)).not.toContain('via-get');
  });

  it.runIf(enabled)('refuses a GET without a preflight header (CSRF prevention)', async () => {
    const response = await fleet.fetch(`${fleet.gatewayUrl}?query=${encodeURIComponent('{ plans { id } }')}`);
    expect(response.status).toBe(400);
  });

  it.runIf(enabled)('keeps introspection off in production mode', async () => {
    const result = await fleet.graphql('{ __schema { queryType { name } } }');
    expect(result.data ?? null).toBeNull();
    expect(result.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
  });

  it.runIf(enabled)('reports health and readiness', async () => {
    const health = await fleet.fetch(`${fleet.url('gateway')}/healthz`);
    expect(await health.json()).toEqual({ status: 'ok' });
    const ready = await fleet.fetch(`${fleet.url('gateway')}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({
      status: 'ready',
      subgraphs: { aaa: 'ok', devices: 'ok', billing: 'ok', audit: 'ok' },
    });
  });

  it.runIf(enabled)('masks what goes wrong inside, and is not ready while a subgraph is down', async () => {
    await fleet.stopService('billing');
    try {
      const result = await fleet.asAdmin('query($t: ID!) { tenant(id: $t) { name plan { name } } }', {
        t: tenantId,
      });
      const text = JSON.stringify(result);
      expect(result.errors?.[0]?.extensions).toEqual({ code: 'INTERNAL_SERVER_ERROR' });
      expect(result.errors?.[0]?.message).toBe('Internal server error');
      for (const leak of ['ECONNREFUSED', '127.0.0.1', 'stack', String(fleet.port('billing'))]) {
        expect(text).not.toContain(leak);
      }
      const ready = await fleet.fetch(`${fleet.url('gateway')}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({
        status: 'not ready',
        subgraphs: { billing: 'unreachable' },
      });
    } finally {
      await fleet.startService('billing');
    }
    const again = await fleet.asAdmin<{ tenant: { plan: { name: string } } }>(
      'query($t: ID!) { tenant(id: $t) { plan { name } } }',
      { t: tenantId },
    );
    expect(again.data?.tenant.plan.name).toBe('Pro');
  });

  it.runIf(enabled)('never writes a key into any log', () => {
    const keys = Object.values(fleet.secrets);
    for (const service of ['gateway', 'aaa', 'devices', 'billing', 'audit'] as const) {
      const text = fleet.logs(service).join('\n');
      expect(text.length).toBeGreaterThan(0);
      for (const key of keys) expect(text).not.toContain(key);
    }
  });
});
