import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allAuditEvents } from '../support/audit-events.js';
import { addMember, bearer, signIn, type TestMember } from '../support/identities.js';
import { findInDatabase, findInFiles, findInLines } from '../support/pii-scan.js';
import {
  createTenant,
  engineMatrix,
  eventually,
  startTestFederation,
  type TestFederation,
} from '../support/test-federation.js';

/** Personal data distinctive enough that finding it anywhere is proof of a leak. */
const PII = {
  email: 'zanzibar.quokka7731@pii-probe.example',
  fullName: 'Quokka Zanzibar-Piiprobe',
  phone: '+99 7731 424242',
  newName: 'Quokka Renamed-Piiprobe',
};
const ERASED = {
  email: 'erasable.wombat5519@pii-probe.example',
  fullName: 'Wombat Erasable-Piiprobe',
  phone: '+99 5519 131313',
};
const SERVICES = ['gateway', 'aaa', 'devices', 'billing', 'audit'] as const;

describe.each(await engineMatrix())(
  'the PII vault and partner API keys on $engine',
  ({ engine, enabled }) => {
    let fleet: TestFederation;
    let tenant: { id: string; slug: string };
    let owner: TestMember;
    let ownerToken: string;

    beforeAll(async () => {
      if (!enabled) return;
      fleet = await startTestFederation({ engine });
      tenant = { id: await createTenant(fleet, 'Probe Industries', 'probe'), slug: 'probe' };
      owner = await addMember(fleet, tenant, {
        email: 'owner@probe.example',
        fullName: 'Owner',
        roles: ['owner'],
      });
      ownerToken = (await signIn(fleet, owner)).accessToken;
    });

    afterAll(async () => {
      await fleet?.destroy();
    });

    it.runIf(enabled)(
      'issues API keys once, accepts them by X-Api-Key within their scopes, and stops revoked ones',
      async () => {
        const created = await fleet.graphql<{
          createApiKey: {
            key: string;
            apiKey: { id: string; prefix: string; lastFour: string; scopes: string[] };
          };
        }>(
          `mutation($input: CreateApiKeyInput!) {
         createApiKey(input: $input) { key apiKey { id prefix lastFour scopes } }
       }`,
          {
            input: {
              tenantId: tenant.id,
              name: 'Monitoring partner',
              scopes: ['tenant:read', 'devices:read'],
              expiresAt: new Date(Date.now() + 30 * 86_400_000).toISOString(),
            },
          },
          bearer(ownerToken),
        );
        expect(created.errors).toBeUndefined();
        const { key, apiKey } = created.data!.createApiKey;
        expect(key.startsWith(apiKey.prefix)).toBe(true);
        expect(key.endsWith(apiKey.lastFour)).toBe(true);
        const listed = await fleet.graphql<{ tenant: { apiKeys: Record<string, unknown>[] } }>(
          'query($t: ID!) { tenant(id: $t) { apiKeys { id prefix lastFour scopes revokedAt } } }',
          { t: tenant.id },
          bearer(ownerToken),
        );
        expect(JSON.stringify(listed.data)).not.toContain(key);

        const asPartner = (query: string, variables: Record<string, unknown> = {}, apiKeyValue = key) =>
          fleet.graphql(query, variables, { 'x-api-key': apiKeyValue });
        expect(
          (await asPartner('query($t: ID!) { tenant(id: $t) { name } }', { t: tenant.id })).data,
        ).toEqual({
          tenant: { name: 'Probe Industries' },
        });
        const beyondScope = await asPartner(
          'mutation($input: CreateMemberInput!) { createMember(input: $input) { activationCode } }',
          { input: { tenantId: tenant.id, email: 'x@probe.example', fullName: 'X', roles: ['owner'] } },
        );
        expect(beyondScope.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
        const other = await createTenant(fleet, 'Elsewhere', 'elsewhere');
        const otherTenant = await asPartner('query($t: ID!) { tenant(id: $t) { name } }', { t: other });
        expect(otherTenant.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
        expect((await asPartner('{ me { id } }', {}, `${key.slice(0, -1)}x`)).status).toBe(401);

        const revoked = await fleet.graphql(
          'mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt } }',
          { id: apiKey.id },
          bearer(ownerToken),
        );
        expect(revoked.errors).toBeUndefined();
        await eventually(
          async () =>
            (await asPartner('query($t: ID!) { tenant(id: $t) { name } }', { t: tenant.id })).status === 401
              ? true
              : undefined,
          30_000,
        );
      },
    );

    it.runIf(enabled)(
      'refuses API keys beyond the creator, without expiry or with unknown scopes',
      async () => {
        const create = (input: Record<string, unknown>) =>
          fleet.graphql(
            'mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { key } }',
            {
              input: {
                tenantId: tenant.id,
                name: 'k',
                scopes: ['devices:read'],
                expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
                ...input,
              },
            },
            bearer(ownerToken),
          );
        const cases: [Record<string, unknown>, string][] = [
          [{ scopes: ['platform:admin'] }, 'scopes'],
          [{ scopes: ['devices:destroy'] }, 'scopes'],
          [{ scopes: [] }, 'scopes'],
          [{ expiresAt: '2001-01-01T00:00:00Z' }, 'expiresAt'],
          [{ expiresAt: new Date(Date.now() + 400 * 86_400_000).toISOString() }, 'expiresAt'],
          [{ expiresAt: 'tomorrow' }, 'expiresAt'],
          [{ name: '' }, 'name'],
          [{ trustedDocuments: ['not-a-digest'] }, 'trustedDocuments'],
          [{ trustedDocuments: [] }, 'trustedDocuments'],
        ];
        for (const [input, field] of cases) {
          expect((await create(input)).errors?.[0]?.extensions, JSON.stringify(input)).toEqual({
            code: 'BAD_USER_INPUT',
            field,
          });
        }
        const viewer = await addMember(fleet, tenant, {
          email: 'viewer@probe.example',
          fullName: 'Viewer',
          roles: ['viewer'],
        });
        const viewerToken = (await signIn(fleet, viewer)).accessToken;
        const byViewer = await fleet.graphql(
          'mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { key } }',
          {
            input: {
              tenantId: tenant.id,
              name: 'mine',
              scopes: ['devices:read'],
              expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
            },
          },
          bearer(viewerToken),
        );
        expect(byViewer.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      },
    );

    it.runIf(enabled)(
      'erases a person: nothing reads their data back, their id and history remain',
      async () => {
        const person = await addMember(fleet, tenant, { ...ERASED, roles: ['viewer'] });
        expect(
          (await fleet.graphql('{ me { email } }', {}, bearer((await signIn(fleet, person)).accessToken)))
            .data,
        ).toEqual({
          me: { email: ERASED.email },
        });
        const erased = await fleet.graphql<{
          eraseUser: { id: string; status: string; email: string | null };
        }>(
          'mutation($u: ID!) { eraseUser(userId: $u) { id status email fullName phone } }',
          { u: person.userId },
          bearer(ownerToken),
        );
        expect(erased.data).toEqual({
          eraseUser: { id: person.userId, status: 'ERASED', email: null, fullName: null, phone: null },
        });
        const read = await fleet.graphql(
          'query($u: ID!) { user(id: $u) { id status email fullName } }',
          { u: person.userId },
          bearer(ownerToken),
        );
        expect(read.data).toEqual({
          user: { id: person.userId, status: 'ERASED', email: null, fullName: null },
        });
        await expect(signIn(fleet, person)).rejects.toThrow(/UNAUTHENTICATED/);
        // Re-inviting the same address makes a new person: the old id keeps nothing of them.
        const again = await addMember(fleet, tenant, { ...ERASED, roles: ['viewer'] });
        expect(again.userId).not.toBe(person.userId);
        const history = await eventually(async () => {
          const types = (await allAuditEvents(fleet))
            .filter((e) => e.aggregateId === person.userId)
            .map((e) => e.type);
          return types.includes('user.erased') ? types : undefined;
        });
        expect(history).toEqual(
          expect.arrayContaining(['user.invited', 'user.activated', 'login.succeeded', 'user.erased']),
        );
      },
    );

    it.runIf(enabled)(
      'keeps personal data out of every other database, every log line and every event',
      async () => {
        const person = await addMember(fleet, tenant, {
          email: PII.email,
          fullName: PII.fullName,
          phone: PII.phone,
          roles: ['admin'],
        });
        const token = (await signIn(fleet, person)).accessToken;
        const updated = await fleet.graphql(
          'mutation($n: String!) { updateProfile(input: { fullName: $n }) { fullName email phone } }',
          { n: PII.newName },
          bearer(token),
        );
        expect(updated.data).toEqual({
          updateProfile: { fullName: PII.newName, email: PII.email, phone: PII.phone },
        });
        // Failed logins with the address are accounted for too, by id only.
        await fleet.graphql('mutation($i: LoginInput!) { login(input: $i) { accessToken } }', {
          i: { tenant: 'probe', email: PII.email, password: 'a wrong password' },
        });
        const events = await eventually(async () => {
          const all = await allAuditEvents(fleet);
          const mine = all.filter((e) => e.aggregateId === person.userId).map((e) => e.type);
          return mine.includes('login.failed') && mine.includes('user.profile_changed') ? all : undefined;
        });
        const values = [...Object.values(PII), ...Object.values(ERASED)];
        expect(
          findInLines(
            events.map((e) => JSON.stringify(e)),
            values,
          ),
        ).toEqual([]);

        await fleet.stop();
        for (const service of SERVICES) expect(findInLines(fleet.logs(service), values), service).toEqual([]);
        // The scan sees what is stored: the tenant's name (not personal data) is found, in aaa's
        // own database and in audit's events, where the personal data is not.
        const control = ['Probe Industries'];
        if (engine === 'pglite') {
          // Every byte the services wrote, aaa's own database included: there the data is sealed.
          expect(await findInFiles(fleet.dataDir, values)).toEqual([]);
          const seen = await findInFiles(fleet.dataDir, control);
          expect(seen.some((file) => file.includes('/aaa/'))).toBe(true);
          expect(seen.some((file) => file.includes('/audit/'))).toBe(true);
        } else {
          for (const [service, database] of Object.entries(fleet.databases)) {
            expect(await findInDatabase(database.url, values), service).toEqual([]);
          }
          expect(await findInDatabase(fleet.databases.aaa!.url, control)).not.toEqual([]);
          expect(await findInDatabase(fleet.databases.audit!.url, control)).not.toEqual([]);
        }
      },
    );
  },
);
