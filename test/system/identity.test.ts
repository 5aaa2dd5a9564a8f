import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMember, bearer, signIn, type TestMember } from '../support/identities.js';
import {
  createTenant,
  engineMatrix,
  eventually,
  startTestFederation,
  type TestFederation,
} from '../support/test-federation.js';

const ME = '{ me { id status email fullName phone memberships { roles tenant { slug } } } }';
const USER = 'query($id: ID!) { user(id: $id) { id email fullName phone } }';

describe.each(await engineMatrix())('identities and members on $engine', ({ engine, enabled }) => {
  let fleet: TestFederation;
  let acme: { id: string; slug: string };
  let globex: { id: string; slug: string };
  let owner: TestMember;
  let operator: TestMember;
  let ownerToken: string;

  beforeAll(async () => {
    if (!enabled) return;
    fleet = await startTestFederation({ engine });
    acme = { id: await createTenant(fleet, 'Acme Networks', 'acme'), slug: 'acme' };
    globex = { id: await createTenant(fleet, 'Globex', 'globex'), slug: 'globex' };
    owner = await addMember(fleet, acme, {
      email: 'olivia.owner@acme.example',
      fullName: 'Olivia Owner',
      phone: '+41 44 555 01 01',
      roles: ['owner'],
    });
    ownerToken = (await signIn(fleet, owner)).accessToken;
    const invited = await fleet.graphql<{ createMember: { user: { id: string }; activationCode: string } }>(
      `mutation($input: CreateMemberInput!) { createMember(input: $input) { user { id } activationCode } }`,
      {
        input: {
          tenantId: acme.id,
          email: 'oscar.operator@acme.example',
          fullName: 'Oscar Operator',
          roles: ['operator'],
        },
      },
      bearer(ownerToken),
    );
    expect(invited.errors).toBeUndefined();
    const password = 'Operator pass phrase 2026';
    const activated = await fleet.graphql(
      'mutation($input: ActivateAccountInput!) { activateAccount(input: $input) }',
      {
        input: {
          tenant: 'acme',
          email: 'Oscar.Operator@ACME.example ',
          code: invited.data!.createMember.activationCode,
          password,
        },
      },
    );
    expect(activated.data).toEqual({ activateAccount: true });
    operator = {
      userId: invited.data!.createMember.user.id,
      tenant: 'acme',
      email: 'oscar.operator@acme.example',
      password,
    };
  });

  afterAll(async () => {
    await fleet?.destroy();
  });

  it.runIf(enabled)('lets a member read their own personal data, decrypted from the vault', async () => {
    const me = await fleet.graphql(ME, {}, bearer(ownerToken));
    expect(me.errors).toBeUndefined();
    expect(me.data).toEqual({
      me: {
        id: owner.userId,
        status: 'ACTIVE',
        email: 'olivia.owner@acme.example',
        fullName: 'Olivia Owner',
        phone: '+41 44 555 01 01',
        memberships: [{ roles: ['owner'], tenant: { slug: 'acme' } }],
      },
    });
  });

  it.runIf(enabled)('shows personal data to tenant administrators, and to nobody else', async () => {
    const byOwner = await fleet.graphql(USER, { id: operator.userId }, bearer(ownerToken));
    expect(byOwner.data).toEqual({
      user: {
        id: operator.userId,
        email: 'oscar.operator@acme.example',
        fullName: 'Oscar Operator',
        phone: null,
      },
    });

    const operatorToken = (await signIn(fleet, operator)).accessToken;
    const byOperator = await fleet.graphql(USER, { id: owner.userId }, bearer(operatorToken));
    expect(byOperator.data).toEqual({ user: null });

    const auditor = await addMember(fleet, acme, {
      email: 'ada.auditor@acme.example',
      fullName: 'Ada Auditor',
      roles: ['auditor'],
    });
    const auditorToken = (await signIn(fleet, auditor)).accessToken;
    const byAuditor = await fleet.graphql<{ user: { id: string; email: string | null } | null }>(
      'query($id: ID!) { user(id: $id) { id email } }',
      { id: owner.userId },
      bearer(auditorToken),
    );
    expect(byAuditor.data?.user).toEqual({ id: owner.userId, email: null });
    expect(byAuditor.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const members = await fleet.graphql<{ tenant: { members: { user: { id: string } }[] } }>(
      'query($t: ID!) { tenant(id: $t) { members { user { id } } } }',
      { t: acme.id },
      bearer(auditorToken),
    );
    expect(members.data?.tenant.members.map((m) => m.user.id)).toContain(owner.userId);

    // Platform operators administer tenants, not their members' personal data.
    const platform = await fleet.asAdmin(USER, { id: owner.userId });
    expect(platform.data).toEqual({ user: { id: owner.userId, email: null, fullName: null, phone: null } });
    expect(platform.errors?.map((e) => e.extensions?.code)).toEqual(['FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN']);
  });

  it.runIf(enabled)('keeps every tenant out of every other tenant', async () => {
    const outsider = await addMember(fleet, globex, {
      email: 'gus@globex.example',
      fullName: 'Gus Globex',
      roles: ['owner'],
    });
    const token = (await signIn(fleet, outsider)).accessToken;

    const tenant = await fleet.graphql(
      'query($t: ID!) { tenant(id: $t) { name } }',
      { t: acme.id },
      bearer(token),
    );
    expect(tenant.data ?? { tenant: null }).toEqual({ tenant: null });
    expect(tenant.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');

    const user = await fleet.graphql(USER, { id: owner.userId }, bearer(token));
    expect(user.data).toEqual({ user: null });

    const invite = await fleet.graphql(
      'mutation($input: CreateMemberInput!) { createMember(input: $input) { activationCode } }',
      { input: { tenantId: acme.id, email: 'mole@globex.example', fullName: 'Mole', roles: ['owner'] } },
      bearer(token),
    );
    expect(invite.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');

    const tenants = await fleet.graphql('{ tenants { id } }', {}, bearer(token));
    expect(tenants.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it.runIf(enabled)('refuses bad input with the field named, storing nothing', async () => {
    const count = async () =>
      (
        await fleet.graphql<{ tenant: { members: unknown[] } }>(
          'query($t: ID!) { tenant(id: $t) { members { roles } } }',
          { t: acme.id },
          bearer(ownerToken),
        )
      ).data!.tenant.members.length;
    const before = await count();
    const cases: [Record<string, unknown>, string][] = [
      [{ email: 'not-an-email' }, 'email'],
      [{ email: `${'a'.repeat(250)}@acme.example` }, 'email'],
      [{ fullName: 'x'.repeat(201) }, 'fullName'],
      [{ fullName: 'Bell\u0007' }, 'fullName'],
      [{ phone: 'call me maybe' }, 'phone'],
      [{ roles: ['emperor'] }, 'roles'],
      [{ roles: ['platform-admin'] }, 'roles'],
      [{ roles: [] }, 'roles'],
    ];
    for (const [override, field] of cases) {
      const result = await fleet.graphql(
        'mutation($input: CreateMemberInput!) { createMember(input: $input) { activationCode } }',
        {
          input: {
            tenantId: acme.id,
            email: 'new@acme.example',
            fullName: 'New Person',
            roles: ['viewer'],
            ...override,
          },
        },
        bearer(ownerToken),
      );
      expect(result.errors?.[0]?.extensions, JSON.stringify(override)).toEqual({
        code: 'BAD_USER_INPUT',
        field,
      });
    }
    expect(await count()).toBe(before);

    const unknownTenant = await fleet.graphql(
      'mutation($input: LoginInput!) { login(input: $input) { accessToken } }',
      { input: { tenant: 'no-such-tenant', email: 'x@y.example', password: 'whatever password' } },
    );
    expect(unknownTenant.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'tenant' });
  });

  it.runIf(enabled)('refuses weak passwords and reused activation codes', async () => {
    const invited = await fleet.graphql<{ createMember: { activationCode: string } }>(
      'mutation($input: CreateMemberInput!) { createMember(input: $input) { activationCode } }',
      {
        input: { tenantId: acme.id, email: 'wendy@acme.example', fullName: 'Wendy Weak', roles: ['viewer'] },
      },
      bearer(ownerToken),
    );
    const code = invited.data!.createMember.activationCode;
    const activate = (password: string, withCode = code) =>
      fleet.graphql('mutation($input: ActivateAccountInput!) { activateAccount(input: $input) }', {
        input: { tenant: 'acme', email: 'wendy@acme.example', code: withCode, password },
      });
    for (const weak of ['short', '1qaz2wsx3edc', 'aaaaaaaaaaaaaaaa', 'wendy-acme-2026-pass']) {
      const result = await activate(weak);
      expect(result.errors?.[0]?.extensions, weak).toEqual({ code: 'BAD_USER_INPUT', field: 'password' });
    }
    expect((await activate('A sound pass phrase', `${code}x`)).errors?.[0]?.extensions).toEqual({
      code: 'BAD_USER_INPUT',
      field: 'code',
    });
    expect((await activate('A sound pass phrase')).data).toEqual({ activateAccount: true });
    expect((await activate('Another pass phrase')).errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it.runIf(enabled)(
    'removes a member: their tokens stop working within seconds, and they cannot sign in',
    async () => {
      const leaving = await addMember(fleet, acme, {
        email: 'leo@acme.example',
        fullName: 'Leo Leaving',
        roles: ['viewer'],
      });
      const token = (await signIn(fleet, leaving)).accessToken;
      expect((await fleet.graphql('{ me { id } }', {}, bearer(token))).errors).toBeUndefined();
      const removed = await fleet.graphql(
        'mutation($t: ID!, $u: ID!) { removeMember(tenantId: $t, userId: $u) }',
        { t: acme.id, u: leaving.userId },
        bearer(ownerToken),
      );
      expect(removed.data).toEqual({ removeMember: true });
      await eventually(async () =>
        (await fleet.graphql('{ me { id } }', {}, bearer(token))).status === 401 ? true : undefined,
      );
      await expect(signIn(fleet, leaving)).rejects.toThrow(/UNAUTHENTICATED/);
    },
  );

  it.runIf(enabled)('lets nobody grant more than they hold', async () => {
    const admin = await addMember(fleet, acme, {
      email: 'adam@acme.example',
      fullName: 'Adam Admin',
      roles: ['admin'],
    });
    const token = (await signIn(fleet, admin)).accessToken;
    const invite = (roles: string[], email: string) =>
      fleet.graphql(
        'mutation($input: CreateMemberInput!) { createMember(input: $input) { user { id } } }',
        { input: { tenantId: acme.id, email, fullName: 'Someone', roles } },
        bearer(token),
      );
    expect((await invite(['owner'], 'would-be-owner@acme.example')).errors?.[0]?.extensions).toEqual({
      code: 'BAD_USER_INPUT',
      field: 'roles',
    });
    expect((await invite(['operator'], 'fine@acme.example')).errors).toBeUndefined();
    const promote = await fleet.graphql(
      'mutation($t: ID!, $u: ID!) { setMemberRoles(tenantId: $t, userId: $u, roles: ["owner"]) { roles } }',
      { t: acme.id, u: admin.userId },
      bearer(token),
    );
    expect(promote.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'roles' });
  });

  it.runIf(enabled)('keeps the last owner of a tenant', async () => {
    const result = await fleet.graphql(
      'mutation($t: ID!, $u: ID!) { setMemberRoles(tenantId: $t, userId: $u, roles: ["viewer"]) { roles } }',
      { t: acme.id, u: owner.userId },
      bearer(ownerToken),
    );
    expect(result.errors?.[0]?.extensions).toEqual({ code: 'CONFLICT', field: 'roles' });
  });
});
