import { randomBytes } from 'node:crypto';
import type { InitialAdmin } from '@fleet/aaa';
import type { InventoryEntry } from '@fleet/routeros-sim';
import { forEachBounded } from '../bounded-concurrency.js';
import { DEMO_OWNER_EMAIL, DEMO_TEMPLATE, DEMO_TENANT, type DemoRouter } from './demo-fleet.js';
import { callGateway, GatewaySession } from './gateway-client.js';

export interface Credentials {
  tenant: string;
  email: string;
  password: string;
}

export interface EnrolledDemo {
  admin: Credentials;
  owner: Credentials;
  tenantId: string;
  deviceIds: string[];
  jobIds: string[];
  session: GatewaySession;
}

/** The demo tenant's plan: room for the demo fleet. */
const DEMO_PLAN = 'pro';

/** Routers enrolled (and jobs queued) at once: each enrollment connects to its router first. */
const AT_ONCE = 5;

const ACTIVATE = 'mutation($i: ActivateAccountInput!) { activateAccount(input: $i) }';
const CREATE_TENANT = 'mutation($i: CreateTenantInput!) { createTenant(input: $i) { id } }';
const CHANGE_PLAN = 'mutation($t: ID!, $p: ID!) { changeTenantPlan(tenantId: $t, planId: $p) { id } }';
const CREATE_MEMBER = 'mutation($i: CreateMemberInput!) { createMember(input: $i) { activationCode } }';
const CREATE_DEVICE = 'mutation($i: CreateDeviceInput!) { createDevice(input: $i) { id } }';
const CREATE_TEMPLATE = 'mutation($i: CreateTemplateInput!) { createTemplate(input: $i) { id } }';
const APPLY = `mutation($d: ID!, $t: ID!, $v: JSON) {
  applyProvisioning(deviceId: $d, templateId: $t, variables: $v) { id }
}`;

/**
 * Sets the demo up through the gateway, as a client would: activates the first administrator,
 * who creates the demo tenant, puts it on a plan large enough for the fleet and creates its
 * owner; the owner enrolls every router (its certificate
 * pinned), creates the baseline template and applies it to each. Passwords are generated here
 * and leave this process only towards the gateway and on the terminal.
 */
export async function enrollDemo(
  url: string,
  initialAdmin: InitialAdmin,
  fleet: readonly { router: DemoRouter; entry: InventoryEntry }[],
  progress: (message: string) => void,
): Promise<EnrolledDemo> {
  const admin = { tenant: initialAdmin.tenant, email: initialAdmin.email, password: strongPassword() };
  await callGateway(url, ACTIVATE, { i: { ...admin, code: initialAdmin.activationCode } });
  const platform = await GatewaySession.signIn(url, admin);

  const { createTenant } = await platform.call<{ createTenant: { id: string } }>(CREATE_TENANT, {
    i: DEMO_TENANT,
  });
  const tenantId = createTenant.id;
  // The fleet is larger than the free plan allows.
  await platform.call(CHANGE_PLAN, { t: tenantId, p: DEMO_PLAN });
  const { createMember } = await platform.call<{ createMember: { activationCode: string } }>(CREATE_MEMBER, {
    i: { tenantId, email: DEMO_OWNER_EMAIL, fullName: 'Demo owner', roles: ['owner'] },
  });
  const owner = { tenant: DEMO_TENANT.slug, email: DEMO_OWNER_EMAIL, password: strongPassword() };
  await callGateway(url, ACTIVATE, { i: { ...owner, code: createMember.activationCode } });
  const session = await GatewaySession.signIn(url, owner);
  progress(`Tenant "${DEMO_TENANT.slug}" and its owner created; enrolling ${fleet.length} routers …`);

  const deviceIds: string[] = [];
  await forEachBounded(fleet, AT_ONCE, async ({ router, entry }, index) => {
    const { createDevice } = await session.call<{ createDevice: { id: string } }>(CREATE_DEVICE, {
      i: {
        tenantId,
        name: router.spec.name,
        host: entry.host,
        port: entry.tlsPort,
        username: entry.username,
        password: entry.password,
        tls: { mode: 'PINNED', fingerprint: entry.fingerprint256 },
        site: router.site,
        tags: router.tags,
      },
    });
    deviceIds[index] = createDevice.id;
  });

  const { createTemplate } = await session.call<{ createTemplate: { id: string } }>(CREATE_TEMPLATE, {
    i: { tenantId, ...DEMO_TEMPLATE },
  });
  const jobIds: string[] = [];
  await forEachBounded(fleet, AT_ONCE, async ({ router }, index) => {
    const { applyProvisioning } = await session.call<{ applyProvisioning: { id: string } }>(APPLY, {
      d: deviceIds[index],
      t: createTemplate.id,
      v: { hostname: router.spec.name, site: router.site },
    });
    jobIds[index] = applyProvisioning.id;
  });
  progress(`${fleet.length} routers enrolled; template "${DEMO_TEMPLATE.name}" queued for each.`);
  return { admin, owner, tenantId, deviceIds, jobIds, session };
}

/** 144 random bits; never one that contains the account's own names (aaa refuses those). */
function strongPassword(): string {
  for (;;) {
    const password = randomBytes(18).toString('base64url');
    if (!/demo|admin|fleet|platform/i.test(password)) return password;
  }
}
