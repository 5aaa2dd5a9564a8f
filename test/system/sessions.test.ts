import { randomBytes, randomUUID } from 'node:crypto';
import { CompactEncrypt, EncryptJWT, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMember, bearer, signIn, type TestMember } from '../support/identities.js';
import {
  createTenant,
  engineMatrix,
  eventually,
  startTestFederation,
  type TestFederation,
} from '../support/test-federation.js';

const REFRESH = `mutation($t: String!) {
  refreshSession(refreshToken: $t) { accessToken refreshToken sessionId }
}`;

interface Pair {
  accessToken: string;
  refreshToken: string;
  sessionId: string;
}

describe.each(await engineMatrix())('sessions and tokens on $engine', ({ engine, enabled }) => {
  let fleet: TestFederation;
  let member: TestMember;
  let tenantId: string;
  let tokenKey: { kid: string; key: Buffer };

  const refresh = async (token: string) => fleet.graphql<{ refreshSession: Pair }>(REFRESH, { t: token });
  const me = async (token: string) =>
    fleet.graphql<{ me: { id: string } }>('{ me { id } }', {}, bearer(token));
  const refusedSoon = (token: string) =>
    eventually(async () => ((await me(token)).status === 401 ? true : undefined), 10_000);

  beforeAll(async () => {
    if (!enabled) return;
    fleet = await startTestFederation({ engine });
    tenantId = await createTenant(fleet, 'Initech', 'initech');
    member = await addMember(
      fleet,
      { id: tenantId, slug: 'initech' },
      {
        email: 'peter@initech.example',
        fullName: 'Peter Gibbons',
        roles: ['admin'],
      },
    );
    const [kid, key] = fleet.secrets['token-keys'].split(',')[0]!.split(':') as [string, string];
    tokenKey = { kid, key: Buffer.from(key, 'base64url') };
  });

  afterAll(async () => {
    await fleet?.destroy();
  });

  it.runIf(enabled)('rotates the refresh token on every use', async () => {
    const first = await signIn(fleet, member);
    const second = await refresh(first.refreshToken);
    expect(second.errors).toBeUndefined();
    const pair = second.data!.refreshSession;
    expect(pair.sessionId).toBe(first.sessionId);
    expect(pair.refreshToken).not.toBe(first.refreshToken);
    expect((await me(pair.accessToken)).data).toEqual({ me: { id: member.userId } });
    expect((await refresh(pair.refreshToken)).errors).toBeUndefined();
  });

  it.runIf(enabled)(
    'accepts the token replaced last once more within the grace, older ones never',
    async () => {
      const first = await signIn(fleet, member);
      const second = (await refresh(first.refreshToken)).data!.refreshSession;
      // A retry after a lost answer: the token just replaced works once more.
      const retried = await refresh(first.refreshToken);
      expect(retried.errors).toBeUndefined();
      // The same token again is reuse: the whole family is revoked.
      const reused = await refresh(first.refreshToken);
      expect(reused.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      expect((await refresh(retried.data!.refreshSession.refreshToken)).errors?.[0]?.extensions?.code).toBe(
        'UNAUTHENTICATED',
      );
      expect((await refresh(second.refreshToken)).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      await refusedSoon(retried.data!.refreshSession.accessToken);
    },
  );

  it.runIf(enabled)('revokes the whole family when a spent token comes back', async () => {
    const first = await signIn(fleet, member);
    const second = (await refresh(first.refreshToken)).data!.refreshSession;
    const third = (await refresh(second.refreshToken)).data!.refreshSession;
    // first is two generations old: never within the grace.
    expect((await refresh(first.refreshToken)).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect((await refresh(third.refreshToken)).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    await refusedSoon(third.accessToken);
  });

  it.runIf(enabled)(
    'logs out, lists and revokes sessions; the gateway refuses their tokens within seconds',
    async () => {
      const one = await signIn(fleet, member);
      const two = await signIn(fleet, member);
      const listed = await fleet.graphql<{ sessions: { id: string; current: boolean }[] }>(
        '{ sessions { id current } }',
        {},
        bearer(one.accessToken),
      );
      const ids = listed.data!.sessions.map((s) => s.id);
      expect(ids).toEqual(expect.arrayContaining([one.sessionId, two.sessionId]));
      expect(listed.data!.sessions.find((s) => s.id === one.sessionId)?.current).toBe(true);

      const revoked = await fleet.graphql(
        'mutation($id: ID!) { revokeSession(id: $id) }',
        { id: two.sessionId },
        bearer(one.accessToken),
      );
      expect(revoked.data).toEqual({ revokeSession: true });
      await refusedSoon(two.accessToken);
      expect((await refresh(two.refreshToken)).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');

      expect((await fleet.graphql('mutation { logout }', {}, bearer(one.accessToken))).data).toEqual({
        logout: true,
      });
      await refusedSoon(one.accessToken);
    },
  );

  it.runIf(enabled)('lets anonymous callers reach only login, refresh and activation', async () => {
    for (const query of ['{ me { id } }', '{ tenants { id } }', 'mutation { logout }', '{ plans { id } }']) {
      const result = await fleet.graphql(query);
      expect(result.status, query).toBe(401);
      expect(result.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      expect(result.data ?? null).toBeNull();
    }
    const sneaky = await fleet.graphql(
      'mutation { ...F } fragment F on Mutation { createTenant(input: { name: "Sneaky", slug: "sneaky" }) { id } }',
    );
    expect(sneaky.status).toBe(401);
    const tenants = await fleet.asAdmin<{ tenants: { slug: string }[] }>('{ tenants { slug } }');
    expect(tenants.data!.tenants.map((t) => t.slug)).not.toContain('sneaky');
  });

  it.runIf(enabled)('answers every forged, altered or expired token with 401 and nothing else', async () => {
    const valid = (await signIn(fleet, member)).accessToken;
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      tid: tenantId,
      roles: ['owner'],
      scope: 'members:write tenant:read',
      sid: randomUUID(),
    };
    const jwe = (key: Uint8Array, header: Record<string, unknown>, iat = now, exp = now + 600) =>
      new EncryptJWT(claims)
        .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', typ: 'at+jwt', ...header })
        .setSubject(member.userId)
        .setIssuer('fleet-aaa')
        .setAudience('fleet-gateway')
        .setJti(randomUUID())
        .setIssuedAt(iat)
        .setExpirationTime(exp)
        .encrypt(key);
    const parts = valid.split('.');
    const flipped = (part: string) => {
      const bytes = Buffer.from(part, 'base64url');
      bytes[0] = bytes[0]! ^ 1;
      return bytes.toString('base64url');
    };
    const forged: Record<string, string> = {
      'altered ciphertext': [parts[0], parts[1], parts[2], flipped(parts[3]!), parts[4]].join('.'),
      'altered tag': [parts[0], parts[1], parts[2], parts[3], flipped(parts[4]!)].join('.'),
      'altered header': [flipped(parts[0]!), ...parts.slice(1)].join('.'),
      expired: await jwe(tokenKey.key, { kid: tokenKey.kid }, now - 2_000, now - 1_000),
      'too long a life': await jwe(tokenKey.key, { kid: tokenKey.kid }, now, now + 86_400),
      'unknown kid': await jwe(randomBytes(32), { kid: 'k9' }),
      'right kid, wrong key': await jwe(randomBytes(32), { kid: tokenKey.kid }),
      'key wrap instead of dir': await new CompactEncrypt(
        Buffer.from(
          JSON.stringify({
            sub: member.userId,
            exp: now + 600,
            iat: now,
            iss: 'fleet-aaa',
            aud: 'fleet-gateway',
            ...claims,
          }),
        ),
      )
        .setProtectedHeader({ alg: 'A256KW', enc: 'A256GCM', kid: tokenKey.kid, typ: 'at+jwt' })
        .encrypt(tokenKey.key),
      'signed, not encrypted': await new SignJWT({ ...claims, sub: member.userId })
        .setProtectedHeader({ alg: 'HS256', kid: tokenKey.kid, typ: 'at+jwt' })
        .setIssuer('fleet-aaa')
        .setAudience('fleet-gateway')
        .setIssuedAt(now)
        .setExpirationTime(now + 600)
        .sign(tokenKey.key),
      unsecured: `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: member.userId })).toString('base64url')}.`,
      garbage: 'not-a-token',
    };
    for (const [name, token] of Object.entries(forged)) {
      const result = await fleet.graphql('{ me { id } }', {}, bearer(token));
      expect(result.status, name).toBe(401);
      expect(result.data ?? null, name).toBeNull();
      expect(
        result.errors?.map((e) => e.extensions?.code),
        name,
      ).toEqual(['UNAUTHENTICATED']);
    }
    // Even an allow-listed operation is refused with a bad token: a credential is all or nothing.
    const withBadToken = await fleet.graphql(REFRESH, { t: 'rt_x' }, bearer('not-a-token'));
    expect(withBadToken.status).toBe(401);
    // The genuine token still works.
    expect((await me(valid)).data).toEqual({ me: { id: member.userId } });
  });
});
