import { fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sign } from '@fleet/request-signing';
import { allAuditEvents } from '../support/audit-events.js';
import { startTestFederation, type TestFederation } from '../support/test-federation.js';
import type { ServiceName } from '@fleet/launcher';

/**
 * Direct calls to subgraphs, bypassing the gateway: only requests signed with the right pair's
 * key, untouched, fresh and new, get an answer. Each is made over mutual TLS with the certificate
 * of the service it claims to come from (what mutual TLS itself refuses: mutual-tls.test.ts).
 */
describe('subgraphs answer only signed calls', () => {
  let fleet: TestFederation;

  beforeAll(async () => {
    fleet = await startTestFederation({ engine: 'pglite' });
  });

  afterAll(async () => {
    await fleet?.destroy();
  });

  const key = (pair: keyof TestFederation['secrets']) => Buffer.from(fleet.secrets[pair], 'base64url');

  function signedRequest(
    service: ServiceName,
    body: string,
    options: { caller?: string; key?: Buffer; path?: string; now?: number; audience?: string } = {},
  ) {
    const path = options.path ?? '/graphql';
    const headers = sign({
      caller: options.caller ?? 'gateway',
      audience: options.audience ?? service,
      key: options.key ?? key(`gateway-${service as 'aaa'}`),
      method: 'POST',
      path,
      body,
      principal: '',
      requestId: 'test-request',
      now: options.now ?? Date.now(),
    });
    return {
      url: `${fleet.url(service)}${path}`,
      headers: { ...headers, 'content-type': 'application/json' },
    };
  }

  /** POSTs to a subgraph over a connection proving the gateway's certificate, or `as`'s. */
  async function post(
    url: string,
    headers: Record<string, string>,
    body: string,
    as: ServiceName = 'gateway',
  ) {
    const port = Number(new URL(url).port);
    const service = (['aaa', 'devices', 'billing', 'audit'] as const).find(
      (name) => fleet.port(name) === port,
    )!;
    const response = await fetch(url, {
      method: 'POST',
      headers,
      body,
      dispatcher: fleet.serviceTls(as).dispatcher(service),
    });
    return { status: response.status, body: await response.text() };
  }

  const queries = {
    service: JSON.stringify({ query: '{ _service { sdl } }' }),
    entities: JSON.stringify({
      query: 'query($r: [_Any!]!) { _entities(representations: $r) { ... on Tenant { id } } }',
      variables: { r: [{ __typename: 'Tenant', id: '00000000-0000-0000-0000-000000000000' }] },
    }),
    introspection: JSON.stringify({ query: '{ __schema { types { name } } }' }),
    typename: JSON.stringify({ query: '{ __typename }' }),
  };

  it.each(['aaa', 'devices', 'billing', 'audit'] as const)(
    '%s refuses unsigned calls, _service and introspection included',
    async (service) => {
      for (const body of Object.values(queries)) {
        const result = await post(
          `${fleet.url(service)}/graphql`,
          { 'content-type': 'application/json' },
          body,
        );
        expect(result.status).toBe(401);
        expect(result.body).not.toContain('sdl');
        expect(result.body).not.toContain('__schema');
      }
    },
  );

  it('answers a correctly signed call', async () => {
    const { url, headers } = signedRequest('aaa', queries.service);
    const result = await post(url, headers, queries.service);
    expect(result.status).toBe(200);
    expect(result.body).toContain('type Tenant');
  });

  it('refuses a call whose body was altered after signing', async () => {
    const { url, headers } = signedRequest('devices', queries.typename);
    const result = await post(url, headers, queries.introspection);
    expect(result).toEqual({ status: 401, body: expect.stringContaining('Unauthorized') });
  });

  it('refuses the same signed call twice', async () => {
    const { url, headers } = signedRequest('billing', queries.typename);
    expect((await post(url, headers, queries.typename)).status).toBe(200);
    expect((await post(url, headers, queries.typename)).status).toBe(401);
  });

  it('refuses calls signed more than 60 seconds ago or ahead', async () => {
    // Timestamps are whole seconds: 65 s keeps clear of the rounding and of the request's own delay.
    for (const now of [Date.now() - 65_000, Date.now() + 65_000]) {
      const { url, headers } = signedRequest('audit', queries.typename, { now });
      expect((await post(url, headers, queries.typename)).status).toBe(401);
    }
  });

  it('refuses a key of another pair: a leaked billing key opens nothing in aaa', async () => {
    const attempts = [
      signedRequest('aaa', queries.service, { key: key('gateway-billing') }),
      signedRequest('aaa', queries.service, {
        caller: 'gateway',
        key: key('gateway-billing'),
        audience: 'billing',
      }),
    ];
    for (const { url, headers } of attempts) {
      const result = await post(url, headers, queries.service);
      expect(result.status).toBe(401);
      expect(result.body).not.toContain('Tenant');
    }
  });

  it("refuses the gateway's key at audit's ingest, and producers' keys at audit's GraphQL", async () => {
    const body = JSON.stringify({ events: [] });
    const asGateway = signedRequest('audit', body, { path: '/ingest', key: key('gateway-audit') });
    expect((await post(asGateway.url, asGateway.headers, body)).status).toBe(401);
    const asProducer = signedRequest('audit', queries.typename, {
      caller: 'devices',
      key: key('devices-audit'),
    });
    expect((await post(asProducer.url, asProducer.headers, queries.typename, 'devices')).status).toBe(401);
  });

  it('lets a producer write only events of its own source', async () => {
    const event = {
      id: crypto.randomUUID(),
      source: 'aaa',
      aggregateType: 'tenant',
      aggregateId: 'forged',
      sequence: 1,
      type: 'tenant.created',
      tenantId: null,
      actor: { kind: 'system', id: null },
      occurredAt: new Date().toISOString(),
      payload: {},
    };
    const body = JSON.stringify({ events: [event] });
    const { url, headers } = signedRequest('audit', body, {
      path: '/ingest',
      caller: 'devices',
      key: key('devices-audit'),
    });
    const result = await post(url, headers, body, 'devices');
    expect(result.status).toBe(400);
    expect(result.body).toContain('source must be \\"devices\\"');
    expect(await allAuditEvents(fleet, { entityType: 'tenant', entityId: 'forged' })).toEqual([]);
  });

  it('answers malformed JSON from a signed caller with 400', async () => {
    const body = '{"events": [';
    const { url, headers } = signedRequest('audit', body, {
      path: '/ingest',
      caller: 'aaa',
      key: key('aaa-audit'),
    });
    const result = await post(url, headers, body, 'aaa');
    expect(result.status).toBe(400);
    expect(result.body).toContain('Malformed JSON');
  });
});
