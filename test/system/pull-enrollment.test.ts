import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onRouter, startRouters, type InventoryEntry, type Simulator } from '../support/routers.js';
import { createTenant, startTestFederation, type TestFederation } from '../support/test-federation.js';

interface Enrollment {
  id: string;
  name: string;
  expiresAt: string;
  token: string;
  script: string;
}

const CREATE_ENROLLMENT = `mutation($input: CreateEnrollmentInput!) {
  createEnrollment(input: $input) { id name expiresAt token script }
}`;

/** The value of `key="…"` in a script line, read back as RouterOS reads a quoted string. */
function quotedValue(script: string, key: string): string {
  const match = new RegExp(`${key}="((?:[^"\\\\]|\\\\.)*)"`).exec(script);
  if (!match) throw new Error(`no ${key} in the script`);
  return match[1]!.replace(
    /\\(.)/g,
    (_all, character: string) => ({ n: '\n', r: '\r', t: '\t' })[character] ?? character,
  );
}

/**
 * Zero-touch enrollment through the real gateway: the platform makes a token and a script; the
 * simulator cannot run scripts, so the test does on the router what the script does (a group and
 * the platform's user, through the API as the router's administrator) and sends the claim the
 * script sends. The platform then connects back, pinned to the fingerprint the claim carried.
 * (The devices service is the same on both engines here: this runs on the embedded one.)
 */
describe('pull enrollment', () => {
  let fleet: TestFederation;
  let routers: Simulator;
  let tenantId: string;

  beforeAll(async () => {
    routers = await startRouters(3);
    fleet = await startTestFederation({ engine: 'pglite' });
    tenantId = await createTenant(fleet, 'Zero Touch', 'zero-touch');
  });

  afterAll(async () => {
    await fleet?.destroy();
    await routers?.close();
  });

  const enroll = async (input: Record<string, unknown>) => {
    const result = await fleet.asAdmin<{ createEnrollment: Enrollment }>(CREATE_ENROLLMENT, {
      input: { tenantId, ...input },
    });
    expect(result.errors).toBeUndefined();
    return result.data!.createEnrollment;
  };

  /** What the script does on the router: the platform's group and user. */
  const runScriptOn = (router: InventoryEntry, script: string) =>
    onRouter(router, async (admin) => {
      const groups = await admin.print('/user/group', { where: { name: 'fleet-platform' } });
      if (groups.length === 0) {
        await admin.add('/user/group', {
          name: 'fleet-platform',
          policy: 'api,read,write,policy,test,sensitive,reboot',
        });
      }
      await admin.add('/user', {
        name: quotedValue(script, '/user add name'),
        group: 'fleet-platform',
        password: quotedValue(script, 'password'),
      });
    });

  /** The claim the script sends: RouterOS prints the fingerprint as lower-case hex. */
  const claim = (body: unknown) =>
    fleet.fetch(new URL('/enroll', fleet.gatewayUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const fingerprintOf = (router: InventoryEntry) => router.fingerprint256.replace(/:/g, '').toLowerCase();

  it('enrolls a router that ran its script, pinned to the certificate it reported', async () => {
    const router = routers.inventory()[0]!;
    const enrollment = await enroll({
      name: 'branch-1',
      site: 'Branch',
      tags: ['pull'],
      port: router.tlsPort,
    });
    expect(enrollment.token).toMatch(/^enr_/);
    expect(enrollment.script).toContain(enrollment.token);
    expect(enrollment.script).toContain(`${new URL(fleet.gatewayUrl).origin}/enroll`);
    await runScriptOn(router, enrollment.script);

    const claimed = await claim({
      token: enrollment.token,
      port: router.tlsPort,
      fingerprint: fingerprintOf(router),
    });
    expect(claimed.status).toBe(200);
    const body = (await claimed.json()) as { enrolled: boolean; deviceId: string; name: string };
    expect(body).toEqual({ enrolled: true, deviceId: expect.any(String), name: 'branch-1' });

    const device = await fleet.asAdmin<{ device: Record<string, unknown> }>(
      'query($id: ID!) { device(id: $id) { name host port site tags identity tls { mode fingerprint } tenant { id } } }',
      { id: body.deviceId },
    );
    expect(device.data!.device).toEqual({
      name: 'branch-1',
      host: '127.0.0.1',
      port: router.tlsPort,
      site: 'Branch',
      tags: ['pull'],
      identity: router.name,
      tls: { mode: 'PINNED', fingerprint: router.fingerprint256 },
      tenant: { id: tenantId },
    });

    // A token is spent once.
    const again = await claim({
      token: enrollment.token,
      port: router.tlsPort,
      fingerprint: fingerprintOf(router),
    });
    expect(again.status).toBe(404);
  });

  it('refuses a claim whose certificate or user does not check out, without spending the token', async () => {
    const [router, other] = [routers.inventory()[1]!, routers.inventory()[2]!];
    const enrollment = await enroll({ name: 'branch-2', port: router.tlsPort });
    // The script has not run yet: the platform's user does not exist on the router.
    const early = await claim({
      token: enrollment.token,
      port: router.tlsPort,
      fingerprint: fingerprintOf(router),
    });
    expect(early.status).toBe(400);
    expect(((await early.json()) as { errors: { message: string }[] }).errors[0]!.message).toBe(
      'The router refused the username or password',
    );
    await runScriptOn(router, enrollment.script);
    // A certificate other than the one reported is not the router that claimed.
    const wrongPin = await claim({
      token: enrollment.token,
      port: router.tlsPort,
      fingerprint: 'ab'.repeat(32),
    });
    expect(wrongPin.status).toBe(400);
    // Pointed at another router's port: that router has no such user.
    const elsewhere = await claim({
      token: enrollment.token,
      port: other.tlsPort,
      fingerprint: fingerprintOf(other),
    });
    expect(elsewhere.status).toBe(400);
    // The token still works once everything checks out.
    const ok = await claim({
      token: enrollment.token,
      port: router.tlsPort,
      fingerprint: fingerprintOf(router),
    });
    expect(ok.status).toBe(200);
  });

  it('answers unknown tokens and malformed claims plainly, and only by POST', async () => {
    for (const body of [
      { token: 'enr_' + 'A'.repeat(43), port: 8729, fingerprint: 'ab'.repeat(32) },
      { token: 'not a token', port: 8729, fingerprint: 'ab'.repeat(32) },
    ]) {
      const response = await claim(body);
      expect(response.status).toBe(404);
      expect(await response.json()).toEqual({
        errors: [{ message: 'Enrollment token not found', extensions: { code: 'NOT_FOUND' } }],
      });
    }
    const enrollment = await enroll({ name: 'branch-3' });
    const badPort = await claim({ token: enrollment.token, port: 70000, fingerprint: 'ab'.repeat(32) });
    expect(badPort.status).toBe(400);
    const notJson = await fleet.fetch(new URL('/enroll', fleet.gatewayUrl), { method: 'POST', body: '{' });
    expect(notJson.status).toBe(400);
    const byGet = await fleet.fetch(new URL('/enroll', fleet.gatewayUrl));
    expect(byGet.status).toBe(405);
  });

  it('refuses enrollments with bad input, naming the field', async () => {
    for (const [input, field] of [
      [{ name: '' }, 'name'],
      [{ name: 'x', port: 0 }, 'port'],
      [{ name: 'x', expiresInMinutes: 1 }, 'expiresInMinutes'],
      [{ name: 'x', tags: ['bad tag'] }, 'tags'],
    ] as const) {
      const result = await fleet.asAdmin(CREATE_ENROLLMENT, { input: { tenantId, ...input } });
      expect(result.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', field });
    }
  });
});
