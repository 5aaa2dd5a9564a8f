import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMember, bearer, signIn } from '../support/identities.js';
import {
  createTenant,
  engineMatrix,
  startTestFederation,
  type GraphQLResult,
  type TestFederation,
} from '../support/test-federation.js';

const USAGE = 'query($id: ID!) { tenant(id: $id) { id usage { month deviceDays devices } } }';
const INVOICES = `query($id: ID!) {
  tenant(id: $id) { id invoices(first: 5) { edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }
}`;
const INVOICE = 'query($id: ID!) { invoice(id: $id) { id } }';
const ISSUE = 'mutation($p: String!) { issueInvoices(period: $p) { period issued } }';
const PAY = 'mutation($id: ID!) { markInvoicePaid(invoiceId: $id) { id } }';

/**
 * Usage and invoices through the gateway, on both engines, with the roles aaa grants: the
 * gateway's scopes and billing's own rules agree on who reads a tenant's usage and invoices,
 * and who issues and records payments.
 */
describe.each(await engineMatrix())(
  'usage and invoices through the gateway on $engine',
  ({ engine, enabled }) => {
    let fleet: TestFederation;
    let tenantId: string;
    const people: Record<'owner' | 'admin' | 'billing' | 'operator', Record<string, string>> = {
      owner: {},
      admin: {},
      billing: {},
      operator: {},
    };

    const as = <T>(headers: Record<string, string>, query: string, variables: Record<string, unknown> = {}) =>
      fleet.graphql<T>(query, variables, headers);
    const codeOf = (result: GraphQLResult<unknown>) => result.errors?.[0]?.extensions?.code;

    beforeAll(async () => {
      if (!enabled) return;
      fleet = await startTestFederation({ engine });
      tenantId = await createTenant(fleet, 'Invoiced Networks', 'invoiced-networks');
      const tenant = { id: tenantId, slug: 'invoiced-networks' };
      for (const role of Object.keys(people) as (keyof typeof people)[]) {
        const email = `${role}@invoiced.example`;
        const member = await addMember(fleet, tenant, { email, fullName: email, roles: [role] });
        people[role] = bearer((await signIn(fleet, member)).accessToken);
      }
    });

    afterAll(async () => {
      await fleet?.destroy();
    });

    it.runIf(enabled)("shows a tenant's invoices to its owners and billing people only", async () => {
      for (const headers of [people.owner, people.billing]) {
        const read = await as(headers, INVOICES, { id: tenantId });
        expect(read.errors, JSON.stringify(read.errors)).toBeUndefined();
        expect(read.data).toEqual({
          tenant: {
            id: tenantId,
            invoices: { edges: [], pageInfo: { hasNextPage: false, endCursor: null } },
          },
        });
        expect((await as(headers, INVOICE, { id: randomUUID() })).data).toEqual({ invoice: null });
      }
      for (const headers of [people.admin, people.operator]) {
        expect(codeOf(await as(headers, INVOICES, { id: tenantId }))).toBe('FORBIDDEN');
        expect(codeOf(await as(headers, INVOICE, { id: randomUUID() }))).toBe('FORBIDDEN');
      }
    });

    it.runIf(enabled)("shows a tenant's usage to whoever reads its billing", async () => {
      const month = new Date().toISOString().slice(0, 7);
      for (const headers of [people.owner, people.billing, people.admin]) {
        const read = await as(headers, USAGE, { id: tenantId });
        expect(read.errors, JSON.stringify(read.errors)).toBeUndefined();
        expect(read.data).toEqual({ tenant: { id: tenantId, usage: { month, deviceDays: 0, devices: 0 } } });
      }
      expect(codeOf(await as(people.operator, USAGE, { id: tenantId }))).toBe('FORBIDDEN');
    });

    it.runIf(enabled)('leaves issuing and payments to platform administrators', async () => {
      const month = new Date().toISOString().slice(0, 7);
      for (const headers of Object.values(people)) {
        expect(codeOf(await as(headers, ISSUE, { p: '2020-01' }))).toBe('FORBIDDEN');
        expect(codeOf(await as(headers, PAY, { id: randomUUID() }))).toBe('FORBIDDEN');
      }
      const current = await fleet.asAdmin(ISSUE, { p: month });
      expect(current.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' } });
      expect(current.errors?.[0]?.message).toContain(`${month} is not over yet`);
      expect((await fleet.asAdmin(ISSUE, { p: '2020-01' })).data).toEqual({
        issueInvoices: { period: '2020-01', issued: 0 },
      });
      expect(codeOf(await fleet.asAdmin(PAY, { id: randomUUID() }))).toBe('NOT_FOUND');
    });
  },
);
