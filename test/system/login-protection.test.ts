import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMember, bearer, signIn, totpCode, type TestMember } from '../support/identities.js';
import {
  createTenant,
  engineMatrix,
  startTestFederation,
  type TestFederation,
} from '../support/test-federation.js';

const LOGIN = 'mutation($input: LoginInput!) { login(input: $input) { accessToken restrictedTo } }';

describe.each(await engineMatrix())(
  'login protection and second factors on $engine',
  ({ engine, enabled }) => {
    let fleet: TestFederation;
    let tenant: { id: string; slug: string };

    const attempt = (input: Record<string, unknown>) =>
      fleet.graphql<{ login: { accessToken: string; restrictedTo: string[] | null } }>(LOGIN, {
        input: { tenant: tenant.slug, ...input },
      });

    beforeAll(async () => {
      if (!enabled) return;
      fleet = await startTestFederation({ engine });
      tenant = { id: await createTenant(fleet, 'Umbrella', 'umbrella'), slug: 'umbrella' };
    });

    afterAll(async () => {
      await fleet?.destroy();
    });

    it.runIf(enabled)(
      'lets 50 parallel wrong passwords check no more than the limit, then locks the account',
      async () => {
        const victim = await addMember(fleet, tenant, {
          email: 'vic@umbrella.example',
          fullName: 'Vic Tim',
          roles: ['viewer'],
        });
        const results = await Promise.all(
          Array.from({ length: 50 }, (_, i) =>
            attempt({ email: victim.email, password: `wrong password ${i}` }),
          ),
        );
        const codes = results.map((r) => r.errors?.[0]?.extensions?.code);
        const checked = codes.filter((c) => c === 'UNAUTHENTICATED').length;
        expect(checked).toBeGreaterThan(0);
        expect(checked).toBeLessThanOrEqual(10);
        expect(codes.filter((c) => c === 'TOO_MANY_ATTEMPTS')).toHaveLength(50 - checked);
        // Locked: even the right password is not checked now.
        const right = await attempt({ email: victim.email, password: victim.password });
        expect(right.errors?.[0]?.extensions?.code).toBe('TOO_MANY_ATTEMPTS');
        expect(right.errors?.[0]?.extensions?.retryAfterSeconds).toBeGreaterThan(0);
      },
    );

    it.runIf(enabled)('answers an unknown email exactly as a wrong password', async () => {
      const known = await addMember(fleet, tenant, {
        email: 'kim@umbrella.example',
        fullName: 'Kim Known',
        roles: ['viewer'],
      });
      const wrong = await attempt({ email: known.email, password: 'not the password at all' });
      const unknown = await attempt({
        email: 'nobody@umbrella.example',
        password: 'not the password at all',
      });
      expect(wrong.status).toBe(unknown.status);
      expect(wrong.errors).toEqual(unknown.errors);
      expect(wrong.errors?.[0]?.message).toBe('Invalid email or password');
      // A success clears the account's failures.
      expect((await attempt({ email: known.email, password: known.password })).errors).toBeUndefined();
    });

    it.runIf(enabled)('enrols TOTP, then requires a fresh code or a single-use recovery code', async () => {
      const member: TestMember = await addMember(fleet, tenant, {
        email: 'mia@umbrella.example',
        fullName: 'Mia Multi',
        roles: ['operator'],
      });
      const token = (await signIn(fleet, member)).accessToken;
      const begun = await fleet.graphql<{ beginTotpEnrollment: { secret: string; uri: string } }>(
        'mutation { beginTotpEnrollment { secret uri } }',
        {},
        bearer(token),
      );
      const { secret, uri } = begun.data!.beginTotpEnrollment;
      expect(uri).toMatch(/^otpauth:\/\/totp\//);
      expect(
        (await fleet.graphql('mutation { confirmTotpEnrollment(code: "000000") }', {}, bearer(token)))
          .errors?.[0]?.extensions,
      ).toEqual({
        code: 'BAD_USER_INPUT',
        field: 'code',
      });
      const confirmed = await fleet.graphql<{ confirmTotpEnrollment: string[] }>(
        'mutation($c: String!) { confirmTotpEnrollment(code: $c) }',
        { c: totpCode(secret) },
        bearer(token),
      );
      const recoveryCodes = confirmed.data!.confirmTotpEnrollment;
      expect(new Set(recoveryCodes).size).toBe(10);

      const credentials = { email: member.email, password: member.password };
      expect((await attempt(credentials)).errors?.[0]?.extensions?.code).toBe('MFA_REQUIRED');
      expect((await attempt({ ...credentials, totp: '123456' })).errors?.[0]?.extensions?.code).toBe(
        'UNAUTHENTICATED',
      );
      // The code of the next step: the current one was spent confirming the enrolment.
      const code = totpCode(secret, Date.now() + 30_000);
      expect((await attempt({ ...credentials, totp: code })).errors).toBeUndefined();
      expect((await attempt({ ...credentials, totp: code })).errors?.[0]?.extensions?.code).toBe(
        'UNAUTHENTICATED',
      );

      const recovery = recoveryCodes[0]!;
      expect(
        (await attempt({ ...credentials, recoveryCode: recovery.toUpperCase() })).errors,
      ).toBeUndefined();
      expect((await attempt({ ...credentials, recoveryCode: recovery })).errors?.[0]?.extensions?.code).toBe(
        'UNAUTHENTICATED',
      );
    });

    it.runIf(enabled)(
      'limits members without a second factor to enrolling one when the tenant requires it',
      async () => {
        const member = await addMember(fleet, tenant, {
          email: 'nat@umbrella.example',
          fullName: 'Nat NoMfa',
          roles: ['admin'],
        });
        const policy = await fleet.asAdmin(
          'mutation($t: ID!) { setTenantMfaRequired(tenantId: $t, required: true) { mfaRequired } }',
          { t: tenant.id },
        );
        expect(policy.data).toEqual({ setTenantMfaRequired: { mfaRequired: true } });
        const signedIn = await attempt({ email: member.email, password: member.password });
        expect(signedIn.data?.login.restrictedTo).toEqual(['mfa:enroll']);
        const token = signedIn.data!.login.accessToken;
        const tenantView = await fleet.graphql(
          'query($t: ID!) { tenant(id: $t) { name } }',
          { t: tenant.id },
          bearer(token),
        );
        expect(tenantView.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
        const begun = await fleet.graphql('mutation { beginTotpEnrollment { secret } }', {}, bearer(token));
        expect(begun.errors).toBeUndefined();
        await fleet.asAdmin(
          'mutation($t: ID!) { setTenantMfaRequired(tenantId: $t, required: false) { mfaRequired } }',
          {
            t: tenant.id,
          },
        );
      },
    );
  },
);
