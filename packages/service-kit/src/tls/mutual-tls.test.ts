import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { connect, type TLSSocket } from 'node:tls';
import { fetch } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { issueServiceCertificate, loadOrCreatePki, type PemPair } from '@fleet/internal-pki';
import { ConfigError } from '../config/config.js';
import { createHttpServer, listen, sendJson } from '../http/http-server.js';
import { createLogger } from '../logging/logger.js';
import { readCertificateFiles } from './certificate-files.js';
import { mutualTlsFromConfig, type MutualTlsConfig } from './mutual-tls-config.js';
import { MutualTls, tlsIdentityOf } from './mutual-tls.js';

const SERVICES = ['gateway', 'aaa', 'devices', 'billing'] as const;
type Service = (typeof SERVICES)[number];

let dir: string;
let authority: PemPair;
const lines: Record<string, unknown>[] = [];
const logger = createLogger({
  service: 'test',
  level: 'info',
  destination: new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean))
        lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  }),
});
const opened: MutualTls[] = [];
const servers: Server[] = [];

function files(service: string, base = join(dir, 'fleet')) {
  return {
    certFile: join(base, `${service}.crt`),
    keyFile: join(base, `${service}.key`),
    caFile: join(base, 'ca.crt'),
  };
}

function side(service: Service, options: { base?: string; reloadMs?: number } = {}): MutualTls {
  const tls = new MutualTls({
    service,
    ...files(service, options.base),
    reloadMs: options.reloadMs ?? 60_000,
    logger,
  });
  opened.push(tls);
  return tls;
}

/** aaa's HTTPS server, accepting the gateway only; answers with the identity the connection proved. */
async function aaaServer(tls = side('aaa')): Promise<{ url: string; server: Server; tls: MutualTls }> {
  const server = createHttpServer(
    (req, res) => {
      sendJson(res, 200, { caller: tlsIdentityOf(req.socket) ?? null });
      return Promise.resolve();
    },
    logger,
    tls.serverOptions(),
  );
  tls.guard(server as HttpsServer, new Set(['gateway']));
  servers.push(server);
  const port = await listen(server, '127.0.0.1', 0);
  return { url: `https://127.0.0.1:${port}`, server, tls };
}

/** The log lines written since `from` whose message contains `text`. */
const logged = (from: number, text: string) =>
  lines.slice(from).filter((line) => String(line.msg).includes(text));

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mutual-tls-'));
  await loadOrCreatePki(join(dir, 'fleet'), SERVICES);
  await loadOrCreatePki(join(dir, 'other'), SERVICES);
  authority = {
    certificatePem: readFileSync(join(dir, 'fleet', 'ca.crt'), 'utf8'),
    privateKeyPem: readFileSync(join(dir, 'fleet', 'ca.key'), 'utf8'),
  };
});

afterEach(async () => {
  await Promise.all(
    servers.splice(0).map(
      (server) =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        }),
    ),
  );
  await Promise.all(opened.splice(0).map((tls) => tls.close()));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('mutual TLS between services', () => {
  it('lets the gateway call aaa, each side proving its identity', async () => {
    const aaa = await aaaServer();
    const response = await fetch(aaa.url, { dispatcher: side('gateway').dispatcher('aaa') });
    expect(await response.json()).toEqual({ caller: 'gateway' });
  });

  it('refuses a service that may not call, before any HTTP, and says so', async () => {
    const aaa = await aaaServer();
    const from = lines.length;
    await expect(fetch(aaa.url, { dispatcher: side('devices').dispatcher('aaa') })).rejects.toThrow();
    await expect.poll(() => logged(from, 'refused a TLS connection').length).toBe(1);
    expect(logged(from, 'refused a TLS connection')[0]).toMatchObject({
      level: 'error',
      identity: 'devices',
      msg: 'refused a TLS connection: its certificate names devices, which does not call aaa',
    });
  });

  it('refuses a client without a certificate', async () => {
    const aaa = await aaaServer();
    const from = lines.length;
    const outcome = await handshake(aaa.url, { ca: authority.certificatePem });
    expect(outcome.data).toBe('');
    await expect.poll(() => logged(from, 'no certificate was presented').length).toBe(1);
  });

  it('refuses an expired certificate and one of another authority, naming the check', async () => {
    const aaa = await aaaServer();
    const expired = await issueServiceCertificate(authority, 'gateway', {
      now: new Date(Date.now() - 100 * 24 * 3600 * 1000),
      days: 90,
    });
    const from = lines.length;
    const outcome = await handshake(aaa.url, {
      ca: authority.certificatePem,
      cert: expired.certificatePem,
      key: expired.privateKeyPem,
    });
    expect(outcome.data).toBe('');
    await expect.poll(() => logged(from, 'the certificate has expired').length).toBe(1);

    const stranger = files('gateway', join(dir, 'other'));
    const afterExpired = lines.length;
    const foreign = await handshake(aaa.url, {
      ca: authority.certificatePem,
      cert: readFileSync(stranger.certFile, 'utf8'),
      key: readFileSync(stranger.keyFile, 'utf8'),
    });
    expect(foreign.data).toBe('');
    await expect
      .poll(() => logged(afterExpired, 'the certificate is not signed by the trusted authority').length)
      .toBe(1);
  });

  it('refuses plain HTTP on the TLS port', async () => {
    const aaa = await aaaServer();
    const from = lines.length;
    await expect(fetch(aaa.url.replace('https:', 'http:'))).rejects.toThrow();
    await expect.poll(() => logged(from, 'plain HTTP was sent to a TLS port').length).toBe(1);
  });

  it('calls a peer only when its certificate names that peer', async () => {
    const aaa = await aaaServer();
    const from = lines.length;
    // The gateway means to call billing, but aaa answers at that address.
    const error = await fetch(aaa.url, { dispatcher: side('gateway').dispatcher('billing') }).catch(
      (caught: Error) => caught,
    );
    expect(error).toBeInstanceOf(Error);
    expect(logged(from, 'could not open a TLS connection to billing')[0]).toMatchObject({
      level: 'error',
      msg: "could not open a TLS connection to billing: the server's certificate names aaa, not billing",
    });
  });

  it('refuses a server whose certificate another authority signed', async () => {
    const impostor = await aaaServer(side('aaa', { base: join(dir, 'other') }));
    const from = lines.length;
    await expect(fetch(impostor.url, { dispatcher: side('gateway').dispatcher('aaa') })).rejects.toThrow();
    expect(logged(from, 'could not open a TLS connection to aaa')[0]?.msg).toBe(
      'could not open a TLS connection to aaa: the certificate is not signed by the trusted authority',
    );
  });

  it('takes up a renewed certificate for new connections, and keeps the old one when the new does not fit', async () => {
    const base = join(dir, 'renewing');
    await loadOrCreatePki(base, SERVICES);
    const gateway = side('gateway', { base });
    const aaaTls = side('aaa', { base, reloadMs: 100 });
    const aaa = await aaaServer(aaaTls);
    const serial = async () => (await peerCertificate(aaa.url, gateway.clientOptions('aaa'))).serialNumber;
    const before = await serial();

    // What the launcher does before expiry: the same authority, a new certificate, files replaced.
    const renewed = await loadOrCreatePki(base, SERVICES, { leafDays: 365, renewBeforeDays: 120 });
    expect(renewed.issued).toContain('aaa');
    await expect.poll(serial, { timeout: 5_000 }).not.toBe(before);
    const after = await serial();
    expect(after).toBe(new X509Certificate(renewed.services.aaa.certificatePem).serialNumber);
    // Still the gateway's to call.
    expect(await (await fetch(aaa.url, { dispatcher: gateway.dispatcher('aaa') })).json()).toEqual({
      caller: 'gateway',
    });

    const from = lines.length;
    writeFileSync(files('aaa', base).keyFile, readFileSync(files('devices', base).keyFile));
    await expect.poll(() => logged(from, 'cannot be used; still using the previous ones').length).toBe(1);
    expect(logged(from, 'cannot be used')[0]?.reason).toContain('is not the private key of the certificate');
    expect(await serial()).toBe(after);
  });
});

describe('certificate files', () => {
  it('refuses, naming the file, a key of another certificate, an expired one, and one of another authority', () => {
    const fleet = files('aaa');
    expect(() => readCertificateFiles({ ...fleet, keyFile: files('devices').keyFile })).toThrow(
      `${files('devices').keyFile} is not the private key of the certificate in ${fleet.certFile}`,
    );
    expect(() => readCertificateFiles(fleet, new Date(Date.now() + 365 * 24 * 3600 * 1000))).toThrow(
      `The certificate in ${fleet.certFile} expired on`,
    );
    expect(() => readCertificateFiles({ ...files('aaa', join(dir, 'other')), caFile: fleet.caFile })).toThrow(
      'is not issued by the authority in',
    );
    expect(() => readCertificateFiles({ ...fleet, certFile: join(dir, 'missing.crt') })).toThrow(
      `Cannot read the certificate file ${join(dir, 'missing.crt')}: ENOENT`,
    );
    expect(() => side('devices').service).not.toThrow();
    // A certificate of another service under this one's name.
    expect(() => new MutualTls({ service: 'billing', ...files('aaa'), reloadMs: 60_000, logger })).toThrow(
      `The certificate in ${fleet.certFile} names aaa`,
    );
  });
});

describe('mutual TLS configuration', () => {
  const config = (values: Partial<MutualTlsConfig>): MutualTlsConfig => ({
    MTLS_CERT_FILE: undefined,
    MTLS_KEY_FILE: undefined,
    MTLS_CA_FILE: undefined,
    MTLS_DISABLED: false,
    TLS_RELOAD_MS: 60_000,
    ...values,
  });

  it('is required: every missing file is named, and turning it off is the only way around', () => {
    const error = (() => {
      try {
        mutualTlsFromConfig('devices', config({ MTLS_CERT_FILE: files('devices').certFile }), logger);
      } catch (caught) {
        return caught as ConfigError;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect(error!.problems).toEqual([
      'DEVICES_MTLS_KEY_FILE: required, as devices talks to the other services over mutual TLS (DEVICES_MTLS_DISABLED=true turns that off, for development only)',
      'DEVICES_MTLS_CA_FILE: required, as devices talks to the other services over mutual TLS (DEVICES_MTLS_DISABLED=true turns that off, for development only)',
    ]);
  });

  it('wants https peers with it, http peers without, and warns when it is off', () => {
    const on = config({
      MTLS_CERT_FILE: files('devices').certFile,
      MTLS_KEY_FILE: files('devices').keyFile,
      MTLS_CA_FILE: files('devices').caFile,
    });
    expect(() => mutualTlsFromConfig('devices', on, logger, { AUDIT_URL: 'http://127.0.0.1:4104' })).toThrow(
      'DEVICES_AUDIT_URL: must be an https:// URL',
    );
    const tls = mutualTlsFromConfig('devices', on, logger, {
      AUDIT_URL: 'https://127.0.0.1:4104',
      BILLING_URL: undefined,
    });
    expect(tls).toBeInstanceOf(MutualTls);
    opened.push(tls!);

    expect(() =>
      mutualTlsFromConfig('devices', config({ MTLS_DISABLED: true }), logger, {
        AUDIT_URL: 'https://127.0.0.1:4104',
      }),
    ).toThrow('DEVICES_AUDIT_URL: must be an http:// URL while DEVICES_MTLS_DISABLED is set');
    const from = lines.length;
    expect(
      mutualTlsFromConfig('devices', config({ MTLS_DISABLED: true }), logger, {
        AUDIT_URL: 'http://127.0.0.1:4104',
      }),
    ).toBeUndefined();
    expect(logged(from, 'mutual TLS is OFF (DEVICES_MTLS_DISABLED)')[0]?.level).toBe('warn');
  });
});

/** A raw TLS handshake to `url`, reading what the server sends until it closes. */
function handshake(
  url: string,
  options: { ca: string; cert?: string; key?: string },
): Promise<{ data: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    let data = '';
    const socket = connect({ host: hostname, port: Number(port), ...options });
    socket.on('secureConnect', () => socket.write('GET / HTTP/1.1\r\nhost: aaa\r\n\r\n'));
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (data += chunk));
    socket.on('error', () => resolve({ data }));
    socket.on('close', () => resolve({ data }));
  });
}

/** The certificate a server shows a new connection. */
function peerCertificate(url: string, options: object): Promise<{ serialNumber: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket: TLSSocket = connect({ host: hostname, port: Number(port), ...options }, () => {
      const certificate = socket.getPeerCertificate();
      socket.destroy();
      resolve({ serialNumber: certificate.serialNumber });
    });
    socket.on('error', reject);
  });
}
