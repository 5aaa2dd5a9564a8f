import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueAccessToken, parseTokenKeyRing, type TokenKeyRing } from '@fleet/access-tokens';
import {
  freePort,
  liveHeapBytes,
  openSockets,
  watch,
  type Credentials,
  type Protocol,
  type Watch,
} from '../support/gateway-subscriptions.js';
import { addMember, bearer, signIn, type TestMember } from '../support/identities.js';
import { enrollRouter, startRouters, type Simulator } from '../support/routers.js';
import {
  createTenant,
  engineMatrix,
  eventually,
  startTestFederation,
  type TestFederation,
} from '../support/test-federation.js';

interface Status {
  state: string;
  cpuLoad: number | null;
  device: { id: string; name: string; tenant: { id: string; name: string; plan: { name: string } } };
}

interface StatusEvent {
  deviceStatusChanged: Status;
}

/** Fields of three subgraphs in one subscription: devices (status), aaa (tenant name), billing (plan). */
const STATUS_ACROSS_SUBGRAPHS = `subscription($d: ID, $t: ID) {
  deviceStatusChanged(deviceId: $d, tenantId: $t) {
    state cpuLoad device { id name tenant { id name plan { name } } }
  }
}`;

const PROTOCOLS: Protocol[] = ['graphql-ws', 'graphql-sse'];

/**
 * Federated subscriptions through the real gateway, with the real graphql-ws and graphql-sse
 * clients: the primary fetch opened on devices, the rest of the plan (aaa, billing) run per
 * event with the subscriber's identity; credentials ending, tenants kept apart, subgraphs
 * restarting, and nothing left behind by subscribers who come and go.
 */
describe.each(await engineMatrix())('federated subscriptions on $engine', ({ engine, enabled }) => {
  let fleet: TestFederation;
  let routers: Simulator;
  let ring: TokenKeyRing;
  let inspector: number;
  let tenantA: string;
  let tenantB: string;
  let ownerA: TestMember;
  let tokenA: string;
  let tokenB: string;
  const devicesA: string[] = [];
  let deviceB: string;
  const open: Watch<unknown>[] = [];

  const subscribe = <T = StatusEvent>(
    protocol: Protocol,
    credentials: Credentials,
    query: string,
    variables: Record<string, unknown> = {},
  ): Watch<T> => {
    const watched = watch<T>(fleet, protocol, credentials, query, variables);
    open.push(watched);
    return watched;
  };
  /** The events that came whole: data and no errors. */
  const complete = <T>(events: { data?: T | null; errors?: unknown }[]) =>
    events.filter((event): event is { data: T } => !event.errors && !!event.data);
  const statuses = (events: { data?: StatusEvent | null; errors?: unknown }[]) =>
    complete(events).map((event) => event.data.deviceStatusChanged);
  /** A token of ownerA's with a lifetime of its own, as aaa would issue it. */
  const shortToken = async (ttlSeconds: number) => {
    const session = await signIn(fleet, ownerA);
    const { token } = await issueAccessToken(
      ring,
      {
        userId: ownerA.userId,
        tenantId: tenantA,
        roles: ['owner'],
        scopes: ['billing:read', 'devices:read', 'tenant:read'],
        sessionId: session.sessionId,
      },
      { ttlSeconds },
    );
    return token;
  };

  beforeAll(async () => {
    if (!enabled) return;
    routers = await startRouters(3);
    inspector = await freePort();
    fleet = await startTestFederation({
      engine,
      overrides: {
        gateway: {
          GATEWAY_REVOCATION_POLL_MS: '250',
          GATEWAY_SUBSCRIPTION_RETRY_MAX_MS: '1000',
          GATEWAY_MAX_SUBSCRIPTIONS_PER_PRINCIPAL: '8',
          // The leak test reads the gateway's live heap through its inspector.
          GATEWAY_NODE_OPTIONS: `--inspect=127.0.0.1:${inspector}`,
        },
        devices: {
          DEVICES_STATUS_INTERVAL_MS: '200',
          DEVICES_STATUS_TIMEOUT_MS: '1000',
          DEVICES_ROUTER_CONNECT_TIMEOUT_MS: '1000',
        },
      },
    });
    const parsed = parseTokenKeyRing(fleet.secrets['token-keys']);
    if ('error' in parsed) throw new Error(parsed.error);
    ring = parsed;
    tenantA = await createTenant(fleet, 'Watched Networks', 'watched-networks');
    tenantB = await createTenant(fleet, 'Other Networks', 'other-networks');
    ownerA = await addMember(
      fleet,
      { id: tenantA, slug: 'watched-networks' },
      {
        email: 'owner@watched.test',
        fullName: 'Owner A',
        roles: ['owner'],
      },
    );
    const ownerB = await addMember(
      fleet,
      { id: tenantB, slug: 'other-networks' },
      {
        email: 'owner@other.test',
        fullName: 'Owner B',
        roles: ['owner'],
      },
    );
    tokenA = (await signIn(fleet, ownerA)).accessToken;
    tokenB = (await signIn(fleet, ownerB)).accessToken;
    const [a1, a2, b1] = routers.inventory();
    devicesA.push(await enrollRouter(fleet, tenantA, a1!), await enrollRouter(fleet, tenantA, a2!));
    deviceB = await enrollRouter(fleet, tenantB, b1!);
  });

  afterAll(async () => {
    await Promise.all(open.map((watched) => watched.close()));
    await fleet?.destroy();
    await routers?.close();
  });

  it.runIf(enabled).each(PROTOCOLS)(
    'streams over %s the status from devices with the tenant name from aaa and the plan from billing',
    async (protocol) => {
      const watched = subscribe(protocol, { token: tokenA }, STATUS_ACROSS_SUBGRAPHS, { d: devicesA[0] });
      const [first] = await eventually(() => {
        const events = complete(watched.events);
        return events.length >= 2 ? events : undefined;
      });
      expect(watched.error).toBeUndefined();
      expect(first!.data).toEqual({
        deviceStatusChanged: {
          state: expect.stringMatching(/^(ONLINE|UNKNOWN|OFFLINE)$/) as string,
          cpuLoad: expect.any(Number) as number,
          device: {
            id: devicesA[0],
            name: expect.any(String) as string,
            tenant: { id: tenantA, name: 'Watched Networks', plan: { name: expect.any(String) as string } },
          },
        },
      });
      await watched.close();
    },
  );

  it.runIf(enabled).each(PROTOCOLS)('never delivers another tenant’s events over %s', async (protocol) => {
    const mine = subscribe(protocol, { token: tokenA }, STATUS_ACROSS_SUBGRAPHS, { t: tenantA });
    const theirs = subscribe(protocol, { token: tokenB }, STATUS_ACROSS_SUBGRAPHS, { t: tenantB });
    // Both tenants' routers are polled every 200 ms: plenty of chances for a leak to show.
    await eventually(() =>
      complete(mine.events).length >= 12 && complete(theirs.events).length >= 6 ? true : undefined,
    );
    expect(new Set(statuses(mine.events).map((status) => status.device.tenant.id))).toEqual(
      new Set([tenantA]),
    );
    expect(new Set(statuses(mine.events).map((status) => status.device.id))).toEqual(new Set(devicesA));
    expect(new Set(statuses(theirs.events).map((status) => status.device.id))).toEqual(new Set([deviceB]));
    // Asking for the other tenant's devices is refused outright, by the subgraph that owns them.
    const prying = subscribe(protocol, { token: tokenA }, STATUS_ACROSS_SUBGRAPHS, { t: tenantB });
    const byDevice = subscribe(protocol, { token: tokenA }, STATUS_ACROSS_SUBGRAPHS, { d: deviceB });
    for (const refused of [prying, byDevice]) {
      await eventually(() => (refused.events.length > 0 || refused.error ? true : undefined));
      expect(complete(refused.events)).toEqual([]);
      const errors = refused.events[0]?.errors ?? (refused.error as { extensions?: { code?: string } }[]);
      // Another tenant's device is not found, as if it did not exist; their tenant is forbidden.
      expect(['FORBIDDEN', 'NOT_FOUND']).toContain(errors[0]?.extensions?.code);
    }
    await Promise.all([mine, theirs, prying, byDevice].map((watched) => watched.close()));
  });

  it.runIf(enabled)('ends a graphql-ws subscription with 4401 when its access token expires', async () => {
    const watched = subscribe('graphql-ws', { token: await shortToken(3) }, STATUS_ACROSS_SUBGRAPHS, {
      d: devicesA[0],
    });
    await eventually(() => (complete(watched.events).length > 0 ? true : undefined));
    const closed = await eventually(() => watched.closed, 10_000);
    expect(closed).toEqual({ code: 4401, reason: 'The access token expired' });
  });

  it.runIf(enabled)(
    'ends an SSE subscription with a last UNAUTHENTICATED event when its token expires',
    async () => {
      const watched = subscribe('graphql-sse', { token: await shortToken(3) }, STATUS_ACROSS_SUBGRAPHS, {
        d: devicesA[0],
      });
      await eventually(() => (complete(watched.events).length > 0 ? true : undefined));
      await eventually(() => (watched.completed ? true : undefined), 10_000);
      expect(watched.events.at(-1)!.errors).toEqual([
        {
          message: 'The access token expired',
          extensions: { code: 'UNAUTHENTICATED', reason: 'token-expired' },
        },
      ]);
    },
  );

  it.runIf(enabled)('ends the subscriptions of a session when it signs out', async () => {
    const session = await signIn(fleet, ownerA);
    const overWs = subscribe('graphql-ws', { token: session.accessToken }, STATUS_ACROSS_SUBGRAPHS, {
      d: devicesA[1],
    });
    const overSse = subscribe('graphql-sse', { token: session.accessToken }, STATUS_ACROSS_SUBGRAPHS, {
      d: devicesA[1],
    });
    await eventually(() =>
      complete(overWs.events).length > 0 && complete(overSse.events).length > 0 ? true : undefined,
    );
    const loggedOut = await fleet.graphql('mutation { logout }', {}, bearer(session.accessToken));
    expect(loggedOut.data).toEqual({ logout: true });
    expect(await eventually(() => overWs.closed)).toEqual({ code: 4401, reason: 'The session was revoked' });
    await eventually(() => (overSse.completed ? true : undefined));
    expect(overSse.events.at(-1)!.errors?.[0]?.extensions).toEqual({
      code: 'UNAUTHENTICATED',
      reason: 'session-revoked',
    });
  });

  it.runIf(enabled)(
    'serves a partner’s API key its registered subscription, and ends it when revoked',
    async () => {
      const digest = createHash('sha256').update(STATUS_ACROSS_SUBGRAPHS).digest('hex');
      const created = await fleet.graphql<{ createApiKey: { key: string; apiKey: { id: string } } }>(
        'mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { key apiKey { id } } }',
        {
          input: {
            tenantId: tenantA,
            name: 'Monitoring partner',
            scopes: ['devices:read', 'tenant:read', 'billing:read'],
            expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
            trustedDocuments: [digest],
          },
        },
        bearer(tokenA),
      );
      const { key, apiKey } = created.data!.createApiKey;
      const overWs = subscribe('graphql-ws', { apiKey: key }, STATUS_ACROSS_SUBGRAPHS, { d: devicesA[0] });
      const overSse = subscribe('graphql-sse', { apiKey: key }, STATUS_ACROSS_SUBGRAPHS, { d: devicesA[0] });
      await eventually(() =>
        complete(overWs.events).length > 0 && complete(overSse.events).length > 0 ? true : undefined,
      );
      expect(statuses(overWs.events)[0]!.device.tenant.name).toBe('Watched Networks');
      // Any other document is refused: the key may run only what was registered for it.
      const other = subscribe(
        'graphql-ws',
        { apiKey: key },
        'subscription { deviceStatusChanged { state } }',
      );
      await eventually(() => (other.error ? true : undefined));
      expect((other.error as { extensions?: { code?: string } }[])[0]?.extensions?.code).toBe(
        'PERSISTED_QUERY_REQUIRED',
      );
      const revoked = await fleet.graphql(
        'mutation($id: ID!) { revokeApiKey(id: $id) { id } }',
        { id: apiKey.id },
        bearer(tokenA),
      );
      expect(revoked.errors).toBeUndefined();
      expect(await eventually(() => overWs.closed)).toEqual({
        code: 4401,
        reason: 'The API key was revoked',
      });
      await eventually(() => (overSse.completed ? true : undefined));
      expect(overSse.events.at(-1)!.errors?.[0]?.extensions).toEqual({
        code: 'UNAUTHENTICATED',
        reason: 'api-key-revoked',
      });
    },
  );

  it.runIf(enabled).each(PROTOCOLS)(
    'refuses over %s whoever brings no valid credentials',
    async (protocol) => {
      const refused: Credentials[] = [{}, { token: 'not-a-token' }, { apiKey: 'fk_not-a-key' }];
      for (const credentials of refused) {
        const watched = subscribe(protocol, credentials, STATUS_ACROSS_SUBGRAPHS, { d: devicesA[0] });
        await eventually(() => (watched.error || watched.closed ? true : undefined));
        expect(watched.events).toEqual([]);
        if (protocol === 'graphql-ws') expect(watched.closed?.code).toBe(4401);
        else expect(String(watched.error)).toContain('401');
      }
    },
  );

  it.runIf(enabled).each(PROTOCOLS)(
    'applies the limits and field authorization of queries to subscriptions over %s',
    async (protocol) => {
      const viewer = await addMember(
        fleet,
        { id: tenantA, slug: 'watched-networks' },
        {
          email: `viewer-${protocol}@watched.test`,
          fullName: 'Viewer',
          roles: ['viewer'],
        },
      );
      const viewerToken = (await signIn(fleet, viewer)).accessToken;
      const deep = `subscription { deviceStatusChanged(tenantId: "${tenantA}") { device { ${'tenant { devices { '.repeat(6)}id${' } }'.repeat(6)} } } }`;
      const cases: [string, { token: string }, string, Record<string, unknown>][] = [
        // A viewer may see devices but not billing: refused before anything is planned.
        ['FORBIDDEN', { token: viewerToken }, STATUS_ACROSS_SUBGRAPHS, { d: devicesA[0] }],
        ['DEPTH_LIMIT', { token: tokenA }, deep, {}],
        ['GRAPHQL_VALIDATION_FAILED', { token: tokenA }, 'subscription { deviceStatusChanged { nope } }', {}],
        ['BAD_REQUEST', { token: tokenA }, '{ me { id } }', {}],
        ['BAD_USER_INPUT', { token: tokenA }, STATUS_ACROSS_SUBGRAPHS, { d: { not: 'an id' } }],
      ];
      for (const [code, credentials, query, variables] of cases) {
        const refused = subscribe(protocol, credentials, query, variables);
        await eventually(() => (refused.events.length > 0 || refused.error ? true : undefined));
        const errors = refused.events[0]?.errors ?? (refused.error as { extensions?: { code?: string } }[]);
        expect([code, errors[0]?.extensions?.code]).toEqual([code, code]);
        expect(complete(refused.events)).toEqual([]);
        await refused.close();
      }
    },
  );

  it.runIf(enabled)('caps the subscriptions one person holds', async () => {
    const capped = await addMember(
      fleet,
      { id: tenantA, slug: 'watched-networks' },
      {
        email: 'capped@watched.test',
        fullName: 'Capped',
        roles: ['owner'],
      },
    );
    const token = (await signIn(fleet, capped)).accessToken;
    const held = Array.from({ length: 8 }, (_, index) =>
      subscribe(index % 2 ? 'graphql-sse' : 'graphql-ws', { token }, STATUS_ACROSS_SUBGRAPHS, {
        d: devicesA[0],
      }),
    );
    await eventually(() => (held.every((watched) => complete(watched.events).length > 0) ? true : undefined));
    const over = subscribe('graphql-ws', { token }, STATUS_ACROSS_SUBGRAPHS, { d: devicesA[0] });
    await eventually(() => (over.error ? true : undefined));
    expect((over.error as { extensions?: { code?: string } }[])[0]?.extensions?.code).toBe(
      'SUBSCRIPTION_LIMIT',
    );
    // Leaving frees a place.
    await held[0]!.close();
    const again = await eventually(async () => {
      const next = subscribe('graphql-ws', { token }, STATUS_ACROSS_SUBGRAPHS, { d: devicesA[0] });
      await eventually(() => (next.events.length > 0 || next.error ? true : undefined));
      if (complete(next.events).length > 0) return next;
      await next.close();
      return undefined;
    });
    await Promise.all([...held, over, again].map((watched) => watched.close()));
  });

  it.runIf(enabled)(
    'gives an event errors when a subgraph of the rest of the plan is down, and lives on',
    async () => {
      const watched = subscribe('graphql-ws', { token: tokenA }, STATUS_ACROSS_SUBGRAPHS, { d: devicesA[0] });
      await eventually(() => (complete(watched.events).length > 0 ? true : undefined));
      await fleet.stopService('billing');
      try {
        const failed = await eventually(() => watched.events.find((event) => event.errors)).catch((e) => {
          console.log(
            'EVENTS',
            watched.events.length,
            JSON.stringify(watched.events.slice(-2)),
            watched.error,
            watched.closed,
          );
          console.log(fleet.logs('gateway').slice(-15).join('\n'));
          throw e;
        });
        expect(failed.errors!.length).toBeGreaterThan(0);
      } finally {
        await fleet.startService('billing');
      }
      const before = complete(watched.events).length;
      await eventually(() => (complete(watched.events).length > before ? true : undefined));
      expect(watched.error).toBeUndefined();
      expect(watched.closed).toBeUndefined();
      await watched.close();
    },
  );

  it.runIf(enabled).each(PROTOCOLS)(
    'keeps a %s subscriber through a restart of the subgraph that owns the subscription',
    async (protocol) => {
      const watched = subscribe(protocol, { token: tokenA }, STATUS_ACROSS_SUBGRAPHS, { t: tenantA });
      await eventually(() => (complete(watched.events).length > 0 ? true : undefined));
      await fleet.stopService('devices');
      await fleet.startService('devices');
      const before = watched.events.length;
      await eventually(() => (complete(watched.events.slice(before)).length >= 2 ? true : undefined), 30_000);
      expect(watched.error).toBeUndefined();
      expect(watched.completed).toBe(false);
      await watched.close();
    },
  );

  it.runIf(enabled)(
    'leaves no sockets and no memory behind after 1,000 subscribers came and went',
    async () => {
      const gateway = fleet.pid('gateway')!;
      const cycle = async (index: number) => {
        const watched = watch(
          fleet,
          index % 2 ? 'graphql-sse' : 'graphql-ws',
          // Two people, each within their cap.
          { token: index % 4 < 2 ? tokenA : tokenB },
          STATUS_ACROSS_SUBGRAPHS,
          { d: index % 4 < 2 ? devicesA[index % 2] : deviceB },
        );
        await eventually(() => (complete(watched.events).length > 0 ? true : undefined));
        await watched.close();
      };
      const cycles = async (from: number, count: number) => {
        // Ten at a time, as busy front ends would.
        for (let index = from; index < from + count; index += 10) {
          await Promise.all(Array.from({ length: 10 }, (_, offset) => cycle(index + offset)));
        }
      };
      await cycles(0, 100);
      const port = fleet.port('gateway');
      const sockets = await openSockets(gateway, port);
      const heap = await liveHeapBytes(inspector);
      await cycles(100, 1_000);
      // Every client's socket closed. The gateway's own connections to the subgraphs are its
      // keep-alive pools' (TLS handshakes are slow under load, so a pool may have opened a few
      // more meanwhile): bounded by the pools, not by the number of subscribers that came and went.
      await eventually(async () =>
        (await openSockets(gateway, port)).clients <= sockets.clients ? true : undefined,
      );
      expect((await openSockets(gateway, port)).upstream).toBeLessThanOrEqual(sockets.upstream + 32);
      // A leak of anything per subscriber (its socket, its stream, its subgraph subscription, its
      // counters) would keep kilobytes alive each: 1,000 of them, megabytes.
      const grown = (await liveHeapBytes(inspector)) - heap;
      expect(grown).toBeLessThan(1.5 * 1024 * 1024);
    },
    180_000,
  );
});
