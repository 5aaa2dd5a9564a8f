import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine, Principal } from '@fleet/service-kit';
import { deviceEvent } from '../../../../test/support/audit-database.js';
import { startAuditUnderTest, type AuditUnderTest } from '../../../../test/support/audit-service.js';
import { startBillingUnderTest, type BillingUnderTest } from '../../../../test/support/billing-service.js';
import { postgresSuiteEnabled } from '../../../../test/support/postgres.js';
import { eventually } from '../../../../test/support/test-federation.js';

/**
 * Billing and audit as they run, over HTTP: devices' events ingested by audit reach billing's
 * meter through the signed feed; billing's worker invoices the last month at once, its events
 * travel back to audit through the outbox; the gateway's calls read usage and invoices.
 */

const engines: { engine: Engine; enabled: boolean }[] = [
  { engine: 'pglite', enabled: true },
  { engine: 'postgres', enabled: await postgresSuiteEnabled() },
];

function user(tenantId: string, scopes: string[]): Principal {
  return { kind: 'user', userId: randomUUID(), tenantId, roles: [], scopes, sessionId: randomUUID() };
}

const platformAdmin = user(randomUUID(), ['platform:admin', 'platform:read']);

const USAGE = `query($t: ID!) { _entities(representations: [{ __typename: "Tenant", id: $t }]) {
  ... on Tenant { usage { month deviceDays devices } } } }`;
const INVOICES = `query($t: ID!) { _entities(representations: [{ __typename: "Tenant", id: $t }]) {
  ... on Tenant { invoices { edges { node { id period status totalMinor currency provider } } } } } }`;

describe.each(engines)('billing metering and invoicing with audit, on $engine', ({ engine, enabled }) => {
  let audit: AuditUnderTest;
  let billing: BillingUnderTest;

  beforeAll(async () => {
    if (!enabled) return;
    audit = await startAuditUnderTest(engine);
    billing = await startBillingUnderTest(engine, {
      BILLING_AUDIT_URL: audit.baseUrl,
      BILLING_KEY_AUDIT: audit.keys.billing.toString('base64url'),
      BILLING_USAGE_POLL_INTERVAL_S: '1',
      BILLING_INVOICE_INTERVAL_S: '1',
    });
  });
  afterAll(async () => {
    await billing?.stop();
    await audit?.stop();
  });

  it.runIf(enabled)(
    "meters devices' events from audit, and invoices the last month at once, its event back in audit",
    async () => {
      const tenant = randomUUID();
      const owner = user(tenant, ['tenant:read', 'billing:read', 'invoices:read']);
      const now = new Date();
      const thisMonth = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1);
      const lastMonth = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1));
      // One device since the middle of last month, one since today.
      const since = new Date(lastMonth.getTime() + 14 * 86_400_000).toISOString();
      await audit.ingest('devices', [
        deviceEvent({ tenantId: tenant, occurredAt: since }),
        deviceEvent({ tenantId: tenant, occurredAt: now.toISOString() }),
      ]);

      const daysSoFar = Math.floor((now.getTime() - thisMonth) / 86_400_000) + 1;
      const usage = await eventually(async () => {
        const read = await billing.graphql<{ _entities: { usage: Record<string, unknown> }[] }>(
          owner,
          USAGE,
          {
            t: tenant,
          },
        );
        const found = read.data?._entities[0]?.usage;
        // Both devices metered, and their days counted (the two land in separate steps).
        return found?.devices === 2 && found.deviceDays === daysSoFar + 1 ? found : undefined;
      });
      expect(usage).toEqual({ month: now.toISOString().slice(0, 7), deviceDays: daysSoFar + 1, devices: 2 });

      // Never subscribed: last month's invoice is void, on the free plan's currency.
      const invoice = await eventually(async () => {
        const read = await billing.graphql<{
          _entities: { invoices: { edges: { node: Record<string, unknown> }[] } }[];
        }>(owner, INVOICES, { t: tenant });
        return read.data?._entities[0]?.invoices.edges[0]?.node;
      });
      expect(invoice).toEqual({
        id: expect.any(String),
        period: lastMonth.toISOString().slice(0, 7),
        status: 'VOID',
        totalMinor: 0,
        currency: 'EUR',
        provider: 'manual',
      });
      const recorded = await eventually(async () => {
        const read = await audit.graphql<{ auditEvents: { edges: { node: Record<string, unknown> }[] } }>(
          platformAdmin,
          'query($id: ID!) { auditEvents(filter: { entityType: "invoice", entityId: $id }) { edges { node { source type tenantId actor { kind } payload } } } }',
          { id: invoice.id },
        );
        return read.data?.auditEvents.edges[0]?.node;
      });
      expect(recorded).toEqual({
        source: 'billing',
        type: 'invoice.voided',
        tenantId: tenant,
        actor: { kind: 'system' },
        payload: {
          id: invoice.id,
          tenantId: tenant,
          period: lastMonth.toISOString().slice(0, 7),
          currency: 'EUR',
          totalMinor: 0,
        },
      });
    },
  );

  it.runIf(enabled)(
    'refuses to issue the current month over HTTP, and names an unknown invoice',
    async () => {
      const month = new Date().toISOString().slice(0, 7);
      const issue = await billing.graphql(
        platformAdmin,
        'mutation($p: String!) { issueInvoices(period: $p) { issued } }',
        { p: month },
      );
      expect(issue.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'period' });
      expect(issue.errors?.[0]?.message).toContain(`${month} is not over yet`);
      const pay = await billing.graphql(
        platformAdmin,
        'mutation($id: ID!) { markInvoicePaid(invoiceId: $id) { id } }',
        { id: randomUUID() },
      );
      expect(pay.errors?.[0]).toMatchObject({
        message: 'Invoice not found',
        extensions: { code: 'NOT_FOUND' },
      });
    },
  );
});
