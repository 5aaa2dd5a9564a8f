import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type ConnectionOptions } from 'node:tls';
import { fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueServiceCertificate, loadOrCreatePki, type PemPair } from '@fleet/internal-pki';
import { sign } from '@fleet/request-signing';
import type { ServiceName, SubgraphName } from '@fleet/launcher';
import { freePort } from '../support/devices-service.js';
import { watch } from '../support/gateway-subscriptions.js';
import { enrollRouter, startRouters, type Simulator } from '../support/routers.js';
import { startTcpRecorder, type TcpRecorder } from '../support/tcp-recorder.js';
import { allAuditEvents } from '../support/audit-events.js';
import {
  createTenant,
  eventually,
  login,
  startTestFederation,
  type TestFederation,
} from '../support/test-federation.js';

const SUBGRAPHS: readonly SubgraphName[] = ['aaa', 'devices', 'billing', 'audit'];

/**
 * The federation as `npm start` runs it, every process talking to the others over mutual TLS,
 * with a relay in front of each subgraph that keeps what crosses it: a capture of the loopback
 * traffic between the processes.
 */
describe('mutual TLS between the processes', () => {
  let fleet: TestFederation;
  let routers: Simulator;
  const recorders = new Map<SubgraphName, TcpRecorder>();
  let authority: PemPair;

  beforeAll(async () => {
    routers = await startRouters(1);
    const ports: Partial<Record<ServiceName, number>> = {};
    for (const subgraph of SUBGRAPHS) {
      ports[subgraph] = await freePort();
      recorders.set(subgraph, await startTcpRecorder(ports[subgraph]));
    }
    // Every call between services goes through the relay of the service called.
    const via = (subgraph: SubgraphName) => `https://127.0.0.1:${recorders.get(subgraph)!.port}`;
    fleet = await startTestFederation({
      engine: 'pglite',
      ports,
      overrides: {
        gateway: {
          ...Object.fromEntries(
            SUBGRAPHS.map((subgraph) => [
              `GATEWAY_${subgraph.toUpperCase()}_URL`,
              `${via(subgraph)}/graphql`,
            ]),
          ),
          // The edge's renewal is tested below: its files are looked at often.
          GATEWAY_TLS_RELOAD_MS: '200',
        },
        aaa: { AAA_AUDIT_URL: via('audit') },
        devices: { DEVICES_AUDIT_URL: via('audit'), DEVICES_BILLING_URL: via('billing') },
        billing: { BILLING_AUDIT_URL: via('audit'), BILLING_DEVICES_URL: via('devices') },
        audit: { AUDIT_DEVICES_URL: via('devices'), AUDIT_BILLING_URL: via('billing') },
      },
    });
    authority = {
      certificatePem: fleet.ca,
      privateKeyPem: readFileSync(join(fleet.dataDir, 'pki', 'ca.key'), 'utf8'),
    };
  });

  afterAll(async () => {
    await fleet?.destroy();
    await Promise.all([...recorders.values()].map((recorder) => recorder.close()));
    await routers?.close();
  });

  /** The certificate and key files of a service of this federation, as TLS client options. */
  const asService = (service: ServiceName): ConnectionOptions => ({
    ca: fleet.ca,
    cert: readFileSync(join(fleet.dataDir, 'pki', `${service}.crt`)),
    key: readFileSync(join(fleet.dataDir, 'pki', `${service}.key`)),
  });

  /** Lines of a service's log, from `from` on, whose message contains `text`. */
  const logLines = (service: ServiceName, from: number, text: string) =>
    fleet
      .logs(service)
      .slice(from)
      .filter((line) => line.includes(text));

  it('carries a whole working day of traffic with no plaintext between the processes', async () => {
    const tenantId = await createTenant(fleet, 'Encrypted', 'encrypted');
    const deviceId = await enrollRouter(fleet, tenantId, routers.inventory()[0]!);
    const token = (await login(fleet.graphql, { tenant: 'platform', ...fleet.admin })).accessToken;
    // Over WSS to the gateway, and a WebSocket over mutual TLS from the gateway to devices.
    expect(fleet.gatewayUrl.startsWith('https://')).toBe(true);
    const subscription = watch<{ deviceStatusChanged: { device: { id: string } } }>(
      fleet,
      'graphql-ws',
      { token },
      'subscription($t: ID) { deviceStatusChanged(tenantId: $t) { device { id } } }',
      { t: tenantId },
    );
    try {
      await eventually(() => (subscription.events.length > 0 ? true : undefined), 30_000);
    } finally {
      await subscription.close();
    }
    // Events reached audit through its relay, and read back through the gateway.
    const history = await eventually(async () => {
      const events = await allAuditEvents(fleet, { entityType: 'device', entityId: deviceId });
      return events.length > 0 ? events : undefined;
    });
    expect(history[0]!.type).toBe('device.created');

    // Every subgraph was called, and every connection to it spoke TLS from its first byte.
    const markers = ['query', 'mutation', 'subscription', '__typename', 'HTTP/1.1', 'x-fleet', 'tenantId'];
    for (const [subgraph, recorder] of recorders) {
      expect(recorder.connections.length, subgraph).toBeGreaterThan(0);
      for (const connection of recorder.connections) {
        const toServer = Buffer.concat(connection.toServer);
        const toClient = Buffer.concat(connection.toClient);
        if (toServer.length === 0) continue;
        // A TLS handshake record (22), version 3.x: a ClientHello.
        expect([toServer[0], toServer[1]], subgraph).toEqual([22, 3]);
        for (const bytes of [toServer, toClient]) {
          const text = bytes.toString('latin1');
          for (const marker of markers) expect(text, `${subgraph}: ${marker}`).not.toContain(marker);
        }
      }
      const applicationData = recorder.connections.some((connection) =>
        Buffer.concat(connection.toClient).includes(Buffer.from([23, 3, 3])),
      );
      expect(applicationData, subgraph).toBe(true);
    }
  });

  it('refuses a direct call without a client certificate at the TLS layer, saying why', async () => {
    for (const subgraph of SUBGRAPHS) {
      const from = fleet.logs(subgraph).length;
      const bare = await handshake(fleet.url(subgraph), { ca: fleet.ca });
      expect(bare.answered, subgraph).toBe(false);
      await expect
        .poll(() => logLines(subgraph, from, 'refused a TLS connection: no certificate was presented').length)
        .toBeGreaterThan(0);
    }
  });

  it("refuses another service's certificate where that service may not call", async () => {
    const from = fleet.logs('aaa').length;
    const attempt = await handshake(fleet.url('aaa'), asService('devices'));
    expect(attempt.answered).toBe(false);
    await expect
      .poll(() =>
        logLines(
          'aaa',
          from,
          'refused a TLS connection: its certificate names devices, which does not call aaa',
        ),
      )
      .toHaveLength(1);
    // The gateway's own certificate is let through, and the call then needs its signature.
    const gateway = await handshake(fleet.url('aaa'), asService('gateway'), 'POST /graphql');
    expect(gateway.answered).toBe(true);
    expect(gateway.status).toBe(401);
  });

  it('refuses an expired certificate of the right authority, naming the check', async () => {
    const expired = await issueServiceCertificate(authority, 'gateway', {
      now: new Date(Date.now() - 100 * 24 * 3600 * 1000),
      days: 90,
    });
    const from = fleet.logs('devices').length;
    const attempt = await handshake(fleet.url('devices'), {
      ca: fleet.ca,
      cert: expired.certificatePem,
      key: expired.privateKeyPem,
    });
    expect(attempt.answered).toBe(false);
    await expect
      .poll(() => logLines('devices', from, 'refused a TLS connection: the certificate has expired'))
      .toHaveLength(1);
  });

  it('counts a signature only from the service whose certificate the connection proved', async () => {
    // A call signed with the gateway's own key for audit, sent over devices' connection: devices
    // may call audit (its ingest), but only the gateway may query it, and it is not the gateway.
    const asGateway = (over: ServiceName) => {
      const body = JSON.stringify({ query: '{ __typename }' });
      const headers = sign({
        caller: 'gateway',
        audience: 'audit',
        key: Buffer.from(fleet.secrets['gateway-audit'], 'base64url'),
        method: 'POST',
        path: '/graphql',
        body,
        principal: '',
        requestId: `binding-${over}`,
        now: Date.now(),
      });
      return fetch(`${fleet.url('audit')}/graphql`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body,
        dispatcher: fleet.serviceTls(over).dispatcher('audit'),
      });
    };
    const from = fleet.logs('audit').length;
    expect((await asGateway('devices')).status).toBe(401);
    await expect
      .poll(() =>
        logLines('audit', from, 'refused a request signed for one service over the connection of another'),
      )
      .toHaveLength(1);
    expect((await asGateway('gateway')).status).toBe(200);
  });

  describe("the gateway's public edge", () => {
    it('serves HTTPS only, every answer with HSTS', async () => {
      expect(fleet.gatewayUrl.startsWith('https://')).toBe(true);
      for (const path of ['/healthz', '/graphql', '/nowhere']) {
        const response = await fleet.fetch(`${fleet.url('gateway')}${path}`);
        expect(response.headers.get('strict-transport-security'), path).toBe('max-age=31536000');
      }
    });

    it('refuses TLS before 1.2, weak suites and plain HTTP, logging each', async () => {
      const from = fleet.logs('gateway').length;
      // Offered for real: OpenSSL itself would not offer them at its default security level.
      const old = await handshake(fleet.url('gateway'), {
        ca: fleet.ca,
        minVersion: 'TLSv1',
        maxVersion: 'TLSv1.1',
        ciphers: 'DEFAULT:@SECLEVEL=0',
      });
      expect(old.answered).toBe(false);
      const weak = await handshake(fleet.url('gateway'), {
        ca: fleet.ca,
        maxVersion: 'TLSv1.2',
        ciphers: 'AES128-SHA:AES256-SHA:AES128-GCM-SHA256',
      });
      expect(weak.answered).toBe(false);
      await expect(fetch(`${fleet.url('gateway').replace('https:', 'http:')}/healthz`)).rejects.toThrow();
      await expect
        .poll(
          () =>
            gatewayLog(fleet, from, 'refused a TLS connection: the peer does not speak TLS 1.2 or later')
              .length,
        )
        .toBeGreaterThan(0);
      await expect
        .poll(
          () =>
            gatewayLog(fleet, from, 'refused a TLS connection: the peer offered no accepted cipher suite')
              .length,
        )
        .toBeGreaterThan(0);
      await expect
        .poll(
          () => gatewayLog(fleet, from, 'refused a TLS connection: plain HTTP was sent to a TLS port').length,
        )
        .toBeGreaterThan(0);
      const modern = await handshake(fleet.url('gateway'), { ca: fleet.ca, maxVersion: 'TLSv1.2' });
      expect(modern.status).toBe(200);
    });

    it('takes up a new certificate without a restart', async () => {
      const before = await servedSerial(fleet);
      // A renewal of the edge certificate, as the launcher makes one before expiry.
      const renewed = await loadOrCreatePki(join(fleet.dataDir, 'pki'), [], {
        edgeNames: ['localhost', '127.0.0.1'],
        leafDays: 365,
        renewBeforeDays: 120,
      });
      expect(renewed.issued).toEqual(['edge']);
      const expected = new X509Certificate(renewed.edge!.certificatePem).serialNumber;
      expect(expected).not.toBe(before);
      await expect.poll(() => servedSerial(fleet), { timeout: 10_000 }).toBe(expected);
      await expect.poll(() => gatewayLog(fleet, 0, 'took up a new certificate').length).toBeGreaterThan(0);
      expect((await fleet.fetch(`${fleet.url('gateway')}/healthz`)).status).toBe(200);
    });
  });
});

describe('certificates of another authority', () => {
  let fleet: TestFederation;
  let external: string;

  beforeAll(async () => {
    // What a mesh or a corporate authority would hand out: the services' certificates are its,
    // configured through each service's three variables, and the internal ones go unused.
    external = await mkdtemp(join(tmpdir(), 'fleet-external-pki-'));
    await loadOrCreatePki(external, ['gateway', ...SUBGRAPHS]);
    const overrides: Partial<Record<ServiceName, Record<string, string>>> = {};
    for (const service of ['gateway', ...SUBGRAPHS] as const) {
      const prefix = service.toUpperCase();
      overrides[service] = {
        [`${prefix}_MTLS_CERT_FILE`]: join(external, `${service}.crt`),
        [`${prefix}_MTLS_KEY_FILE`]: join(external, `${service}.key`),
        [`${prefix}_MTLS_CA_FILE`]: join(external, 'ca.crt'),
      };
    }
    fleet = await startTestFederation({ engine: 'pglite', overrides });
  });

  afterAll(async () => {
    await fleet?.destroy();
    if (external) await rm(external, { recursive: true, force: true });
  });

  it('uses them between the services, and refuses the internal authority’s', async () => {
    // The whole path works: the gateway signs in through aaa, which ships its events to audit.
    expect((await login(fleet.graphql, { tenant: 'platform', ...fleet.admin })).accessToken).toBeTruthy();
    const asExternal: ConnectionOptions = {
      ca: readFileSync(join(external, 'ca.crt')),
      cert: readFileSync(join(external, 'gateway.crt')),
      key: readFileSync(join(external, 'gateway.key')),
    };
    expect(await handshake(fleet.url('aaa'), asExternal, 'POST /graphql')).toEqual({
      answered: true,
      status: 401,
    });
    const from = fleet.logs('aaa').length;
    // The server's certificate checks out (the external authority's); the client's is refused.
    const internal = await handshake(fleet.url('aaa'), {
      ca: asExternal.ca,
      cert: readFileSync(join(fleet.dataDir, 'pki', 'gateway.crt')),
      key: readFileSync(join(fleet.dataDir, 'pki', 'gateway.key')),
    });
    expect(internal.answered).toBe(false);
    await expect
      .poll(() =>
        fleet
          .logs('aaa')
          .slice(from)
          .filter((line) => line.includes('the certificate is not signed by the trusted authority')),
      )
      .toHaveLength(1);
  });
});

/** Lines of the gateway's log whose message contains `text`, from `from` on. */
function gatewayLog(fleet: TestFederation, from: number, text: string): string[] {
  return fleet
    .logs('gateway')
    .slice(from)
    .filter((line) => line.includes(text));
}

/** The serial number of the certificate the gateway shows a new connection. */
function servedSerial(fleet: TestFederation): Promise<string> {
  const { hostname, port } = new URL(fleet.url('gateway'));
  return new Promise((resolve, reject) => {
    const socket = connect(
      { host: hostname, port: Number(port), ca: fleet.ca, servername: 'localhost' },
      () => {
        resolve(socket.getPeerCertificate().serialNumber);
        socket.destroy();
      },
    );
    socket.on('error', reject);
  });
}

/**
 * A TLS connection to `url` sending one bodiless request (`GET /healthz` unless told otherwise):
 * whether an HTTP answer came back, and its status. A refusal at the TLS layer ends the
 * connection with no answer.
 */
function handshake(
  url: string,
  options: ConnectionOptions,
  request = 'GET /healthz',
): Promise<{ answered: boolean; status?: number }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    let data = '';
    const socket = connect({ host: hostname, port: Number(port), servername: 'localhost', ...options });
    socket.on('secureConnect', () =>
      socket.write(
        `${request} HTTP/1.1\r\nhost: localhost\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`,
      ),
    );
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (data += chunk));
    const done = () => {
      const status = /^HTTP\/1\.1 (\d{3})/.exec(data)?.[1];
      resolve(status ? { answered: true, status: Number(status) } : { answered: false });
    };
    socket.on('error', done);
    socket.on('close', done);
  });
}
