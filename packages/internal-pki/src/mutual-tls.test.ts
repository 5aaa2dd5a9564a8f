import { readFile, mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer, type ConnectionOptions, type Server, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  issueServiceCertificate,
  loadOrCreatePki,
  serviceIdentityOf,
  type PemPair,
  type Pki,
} from './index.js';

let dir: string;
let pki: Pki<'gateway' | 'billing'>;
let stranger: Pki<'gateway' | 'billing'>;
let server: Server;
let port: number;
/** What the server saw of each accepted client, and why it refused the others. */
const accepted: { identity: string | undefined; authorized: boolean }[] = [];
const refused: { code: string | undefined; reason: string | undefined }[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'internal-pki-tls-'));
  pki = await loadOrCreatePki(join(dir, 'fleet'), ['gateway', 'billing']);
  stranger = await loadOrCreatePki(join(dir, 'other'), ['gateway', 'billing']);
  server = createServer({
    cert: pki.services.billing.certificatePem,
    key: pki.services.billing.privateKeyPem,
    ca: [pki.caCertificatePem],
    requestCert: true,
    rejectUnauthorized: true,
  });
  server.on('secureConnection', (socket: TLSSocket) => {
    accepted.push({
      identity: serviceIdentityOf(socket.getPeerCertificate()),
      authorized: socket.authorized,
    });
    socket.end('hello from billing\n');
  });
  // Node drops a client whose certificate fails verification without an alert: the reason is the
  // socket's authorizationError, read where the server hears of the failed handshake.
  server.on('tlsClientError', (error: NodeJS.ErrnoException, socket: TLSSocket) =>
    refused.push({ code: error.code, reason: socket.authorizationError?.toString() }),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await rm(dir, { recursive: true, force: true });
});

interface Outcome {
  readonly data?: string;
  readonly serverIdentity?: string | undefined;
  readonly error?: NodeJS.ErrnoException;
}

/** Connects to billing as a client, reads what it sends until it closes, or the error that ends it. */
function call(options: Omit<ConnectionOptions, 'host' | 'port'>): Promise<Outcome> {
  return new Promise((resolve) => {
    let data = '';
    let serverIdentity: string | undefined;
    const socket = connect({ host: '127.0.0.1', port, servername: 'billing', ...options });
    socket.setEncoding('utf8');
    socket.on('secureConnect', () => {
      serverIdentity = serviceIdentityOf(socket.getPeerCertificate());
    });
    socket.on('data', (chunk: string) => (data += chunk));
    socket.on('error', (error: NodeJS.ErrnoException) => resolve({ error }));
    socket.on('end', () => resolve({ data, serverIdentity }));
  });
}

function asClient(pair: PemPair, ca = pki.caCertificatePem): Omit<ConnectionOptions, 'host' | 'port'> {
  return { ca: [ca], cert: pair.certificatePem, key: pair.privateKeyPem };
}

/** Waits for the server's reason for the refusal this test caused. */
async function lastRefusal(before: number): Promise<(typeof refused)[number]> {
  await expect.poll(() => refused.length).toBeGreaterThan(before);
  return refused.at(-1)!;
}

describe('mutual TLS with the internal PKI', () => {
  it('connects the gateway to billing, each reading the other’s identity', async () => {
    const outcome = await call(asClient(pki.services.gateway));
    expect(outcome.error).toBeUndefined();
    expect(outcome.data).toBe('hello from billing\n');
    expect(outcome.serverIdentity).toBe('billing');
    expect(accepted.at(-1)).toEqual({ identity: 'gateway', authorized: true });
  });

  it('checks the server’s DNS name and IP address against its certificate', async () => {
    expect((await call({ ...asClient(pki.services.gateway), servername: 'localhost' })).data).toBe(
      'hello from billing\n',
    );
    const wrongName = await call({ ...asClient(pki.services.gateway), servername: 'devices' });
    expect(wrongName.error?.code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
  });

  it('refuses a client without a certificate', async () => {
    const before = refused.length;
    const accepts = accepted.length;
    const outcome = await call({ ca: [pki.caCertificatePem] });
    expect(outcome.data ?? '').toBe('');
    expect(outcome.error?.code).toMatch(/CERTIFICATE_REQUIRED|ECONNRESET/);
    expect((await lastRefusal(before)).code).toBe('ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE');
    expect(accepted.length).toBe(accepts);
  });

  it('refuses a client whose certificate another authority signed', async () => {
    const before = refused.length;
    const accepts = accepted.length;
    const outcome = await call(asClient(stranger.services.gateway));
    // Under TLS 1.3 the client's side of the handshake ends before the server has judged its
    // certificate: the client sees the connection close (or reset) without a byte.
    expect(outcome.data ?? '').toBe('');
    expect((await lastRefusal(before)).reason).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    expect(accepted.length).toBe(accepts);
  });

  it('refuses a client whose certificate has expired', async () => {
    const authority = {
      certificatePem: pki.caCertificatePem,
      privateKeyPem: await readFile(join(dir, 'fleet', 'ca.key'), 'utf8'),
    };
    const expired = await issueServiceCertificate(authority, 'gateway', {
      now: new Date(Date.now() - 100 * 24 * 3600 * 1000),
      days: 90,
    });
    const before = refused.length;
    const accepts = accepted.length;
    const outcome = await call(asClient(expired));
    // Under TLS 1.3 the client's side of the handshake ends before the server has judged its
    // certificate: the client sees the connection close (or reset) without a byte.
    expect(outcome.data ?? '').toBe('');
    expect((await lastRefusal(before)).reason).toBe('CERT_HAS_EXPIRED');
    expect(accepted.length).toBe(accepts);
  });

  it('lets the client refuse a server whose certificate another authority signed', async () => {
    const impostor = createServer({
      cert: stranger.services.billing.certificatePem,
      key: stranger.services.billing.privateKeyPem,
    });
    impostor.on('secureConnection', (socket: TLSSocket) => socket.end('hello from the impostor\n'));
    await new Promise<void>((resolve) => impostor.listen(0, '127.0.0.1', resolve));
    try {
      const outcome = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
        const socket = connect({
          host: '127.0.0.1',
          port: (impostor.address() as AddressInfo).port,
          servername: 'billing',
          ...asClient(pki.services.gateway),
        });
        socket.on('error', resolve);
        socket.on('secureConnect', () => resolve(undefined));
      });
      expect(outcome?.code).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    } finally {
      await new Promise<void>((resolve) => impostor.close(() => resolve()));
    }
  });
});
