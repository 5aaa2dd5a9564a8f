import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allAuditEvents } from '../support/audit-events.js';
import { addMember, bearer, signIn } from '../support/identities.js';
import {
  createTenant,
  engineMatrix,
  eventually,
  startTestFederation,
  type TestFederation,
} from '../support/test-federation.js';
import { reach, startRouters, type Simulator } from '../support/routers.js';

const CREATE = `mutation($input: CreateTemplateInput!) { createTemplate(input: $input) { id name latestVersion } }`;
const UPDATE = `mutation($id: ID!, $spec: JSON!, $variables: [TemplateVariableInput!]) {
  updateTemplate(id: $id, spec: $spec, variables: $variables) { id latestVersion }
}`;
const RENDER = `query($id: ID!, $version: Int, $variables: JSON) {
  renderTemplate(id: $id, version: $version, variables: $variables) { name path items }
}`;

const VARIABLES = [
  { name: 'site', type: 'string', description: 'Short site code' },
  { name: 'lan', type: 'ipv4Cidr', default: '192.168.88.1/24' },
];
const SPEC = {
  identity: { name: '${site}-gw' },
  services: [
    { name: 'telnet', disabled: true },
    { name: 'ftp', disabled: true },
    { name: 'www', disabled: true },
  ],
  addresses: [{ address: '${lan}', interface: 'bridge', comment: 'LAN' }],
  firewallFilter: [
    { chain: 'input', action: 'accept', connectionState: 'established,related' },
    { chain: 'input', action: 'drop', inInterface: 'ether1', comment: 'no management from WAN' },
  ],
};

/** Versioned templates with per-device variables, through the gateway, on both engines. */
describe.each(await engineMatrix())('templates on $engine', ({ engine, enabled }) => {
  let fleet: TestFederation;
  let tenantId: string;
  let templateId: string;
  let routers: Simulator;

  beforeAll(async () => {
    if (!enabled) return;
    routers = await startRouters(1);
    fleet = await startTestFederation({ engine });
    tenantId = await createTenant(fleet, 'Templated', 'templated');
  });

  afterAll(async () => {
    await fleet?.destroy();
    await routers?.close();
  });

  it.runIf(enabled)('creates a template, and adds a version for every change', async () => {
    const created = await fleet.asAdmin<{ createTemplate: { id: string; latestVersion: number } }>(CREATE, {
      input: { tenantId, name: 'branch', spec: SPEC, variables: VARIABLES },
    });
    expect(created.errors).toBeUndefined();
    expect(created.data!.createTemplate.latestVersion).toBe(1);
    templateId = created.data!.createTemplate.id;
    const updated = await fleet.asAdmin<{ updateTemplate: { latestVersion: number } }>(UPDATE, {
      id: templateId,
      spec: { ...SPEC, dns: { servers: ['9.9.9.9'], allowRemoteRequests: false } },
      variables: VARIABLES,
    });
    expect(updated.data!.updateTemplate.latestVersion).toBe(2);
    const listed = await fleet.asAdmin<{
      template: {
        name: string;
        versions: { version: number; spec: Record<string, unknown>; variables: { name: string }[] }[];
      };
    }>(
      'query($id: ID!) { template(id: $id) { name versions { version spec variables { name type default } } } }',
      {
        id: templateId,
      },
    );
    expect(listed.errors).toBeUndefined();
    const template = listed.data!.template;
    expect(template.name).toBe('branch');
    expect(template.versions.map((version) => version.version)).toEqual([1, 2]);
    expect(template.versions[0]!.spec).toEqual(SPEC);
    expect(template.versions[1]!.spec.dns).toEqual({ servers: ['9.9.9.9'], allowRemoteRequests: false });
  });

  it.runIf(enabled)('renders a version for a device, naming the variable that does not fit', async () => {
    const latest = await fleet.asAdmin<{
      renderTemplate: { name: string; path: string; items: unknown[] }[];
    }>(RENDER, {
      id: templateId,
      variables: { site: 'ams' },
    });
    expect(latest.errors).toBeUndefined();
    expect(latest.data!.renderTemplate.map((menu) => menu.path)).toEqual([
      '/system/identity',
      '/ip/dns',
      '/ip/service',
      '/ip/address',
      '/ip/firewall/filter',
    ]);
    expect(latest.data!.renderTemplate[0]!.items).toEqual([{ name: 'ams-gw' }]);
    expect(latest.data!.renderTemplate[3]!.items).toEqual([
      { address: '192.168.88.1/24', interface: 'bridge', comment: 'LAN' },
    ]);
    const first = await fleet.asAdmin<{ renderTemplate: { path: string }[] }>(RENDER, {
      id: templateId,
      version: 1,
      variables: { site: 'ams', lan: '10.1.2.1/24' },
    });
    expect(first.data!.renderTemplate.map((menu) => menu.path)).not.toContain('/ip/dns');

    for (const [variables, field, message] of [
      [{}, 'variables.site', 'site is required'],
      [
        { site: 'ams', lan: '10.1.2.1' },
        'variables.lan',
        'lan must be an IPv4 address with a prefix length, like 192.168.88.1/24',
      ],
      [{ site: 'ams', vlan: 5 }, 'variables.vlan', 'the template declares no variable vlan'],
    ] as const) {
      const refused = await fleet.asAdmin(RENDER, { id: templateId, variables });
      expect(refused.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', field });
      expect(refused.errors?.[0]?.message).toBe(message);
    }
    const noVersion = await fleet.asAdmin(RENDER, { id: templateId, version: 7, variables: { site: 'a' } });
    expect(noVersion.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'version' });
  });

  it.runIf(enabled)('plans a device against a version by reading the router, changing nothing', async () => {
    const device = await fleet.asAdmin<{ createDevice: { id: string; identity: string } }>(
      'mutation($input: CreateDeviceInput!) { createDevice(input: $input) { id identity } }',
      { input: { tenantId, name: 'ams-1', ...reach(routers.inventory()[0]!) } },
    );
    const deviceId = device.data!.createDevice.id;
    const PLAN = `query($d: ID!, $t: ID!, $v: JSON) {
      planProvisioning(deviceId: $d, templateId: $t, variables: $v) {
        version empty changes { action menu itemId properties before placeBefore }
      }
    }`;
    type Plan = {
      planProvisioning: {
        version: number;
        empty: boolean;
        changes: { action: string; menu: string; properties: Record<string, string> | null }[];
      };
    };
    const plan = await fleet.asAdmin<Plan>(PLAN, { d: deviceId, t: templateId, v: { site: 'ams' } });
    expect(plan.errors).toBeUndefined();
    expect(plan.data!.planProvisioning.version).toBe(2);
    expect(plan.data!.planProvisioning.empty).toBe(false);
    expect(plan.data!.planProvisioning.changes).toContainEqual(
      expect.objectContaining({ action: 'set', menu: '/system/identity', properties: { name: 'ams-gw' } }),
    );
    expect(plan.data!.planProvisioning.changes).toContainEqual(
      expect.objectContaining({ action: 'set', menu: '/ip/service', properties: { disabled: 'true' } }),
    );
    // Planning changed nothing: asked again, the router needs the very same changes.
    const again = await fleet.asAdmin<Plan>(PLAN, { d: deviceId, t: templateId, v: { site: 'ams' } });
    expect(again.data).toEqual(plan.data);
    const missing = await fleet.asAdmin(PLAN, { d: deviceId, t: templateId, v: {} });
    expect(missing.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'variables.site' });
  });

  it.runIf(enabled)('refuses a bad template, naming the place, and stores nothing', async () => {
    for (const [input, field] of [
      [{ spec: { firewallFilter: [{ chain: 'input', action: 'allow' }] } }, 'spec.firewallFilter[0].action'],
      [{ spec: { identity: { name: '${undeclared}' } } }, 'spec.identity.name'],
      [{ spec: { vlans: [] } }, 'spec.vlans'],
      [{ spec: {}, variables: [{ name: 'x', type: 'ipv6' }] }, 'variables.x.type'],
      [{ name: '', spec: {} }, 'name'],
    ] as const) {
      const result = await fleet.asAdmin(CREATE, { input: { tenantId, name: 'bad', ...input } });
      expect(result.errors?.[0]?.extensions, field).toEqual({ code: 'BAD_USER_INPUT', field });
    }
    const duplicate = await fleet.asAdmin(CREATE, { input: { tenantId, name: 'branch', spec: {} } });
    expect(duplicate.errors?.[0]?.extensions).toEqual({ code: 'CONFLICT', field: 'name' });
    const names = await fleet.asAdmin<{ templates: { name: string }[] }>(
      'query($t: ID!) { templates(tenantId: $t) { name } }',
      {
        t: tenantId,
      },
    );
    expect(names.data!.templates.map((template) => template.name)).toEqual(['branch']);
  });

  it.runIf(enabled)("keeps a tenant's templates from every other tenant", async () => {
    const otherTenant = await createTenant(fleet, 'Other Templated', 'other-templated');
    const outsider = await addMember(
      fleet,
      { id: otherTenant, slug: 'other-templated' },
      { email: 'owner@other-templated.example', fullName: 'Owner', roles: ['owner'] },
    );
    const token = bearer((await signIn(fleet, outsider)).accessToken);
    const seen = await fleet.graphql<{ template: unknown }>(
      'query($id: ID!) { template(id: $id) { name } }',
      { id: templateId },
      token,
    );
    expect(seen.data).toEqual({ template: null });
    const rendered = await fleet.graphql(RENDER, { id: templateId, variables: { site: 'x' } }, token);
    expect(rendered.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const changed = await fleet.graphql(UPDATE, { id: templateId, spec: {} }, token);
    expect(changed.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const listed = await fleet.graphql(
      'query($t: ID!) { templates(tenantId: $t) { name } }',
      { t: tenantId },
      token,
    );
    expect(listed.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it.runIf(enabled)('records every version in the audit trail', async () => {
    const events = await eventually(async () => {
      const all = (await allAuditEvents(fleet)).filter((event) => event.aggregateId === templateId);
      return all.length >= 2 ? all : undefined;
    }, 20_000);
    expect(events.map((event) => [event.type, event.payload.version])).toEqual([
      ['template.created', 1],
      ['template.version-added', 2],
    ]);
  });
});
