import 'reflect-metadata';
import { createPrivateKey, webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
import {
  AuthorityKeyIdentifierExtension,
  BasicConstraintsExtension,
  ExtendedKeyUsage,
  ExtendedKeyUsageExtension,
  KeyUsageFlags,
  KeyUsagesExtension,
  PemConverter,
  SubjectAlternativeNameExtension,
  SubjectKeyIdentifierExtension,
  X509Certificate,
  X509CertificateGenerator,
} from '@peculiar/x509';
import { assertServiceName, identityUri } from './service-identity.js';

/** A certificate and its private key, both PEM (the key PKCS#8). */
export interface PemPair {
  readonly certificatePem: string;
  readonly privateKeyPem: string;
}

export const CA_NAME = 'CN=Fleet internal CA';
export const DEFAULT_CA_DAYS = 3650;
export const DEFAULT_LEAF_DAYS = 90;

const DAY_MS = 24 * 3600 * 1000;
/** Certificates start an hour early, so a peer whose clock is a little behind still accepts them. */
const BACKDATE_MS = 3600 * 1000;
const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

export interface IssueOptions {
  /** The moment the certificate is made at; defaults to the current time. */
  readonly now?: Date;
  readonly days?: number;
}

/** A self-signed ECDSA P-256 authority that signs service certificates only (path length 0). */
export async function createCertificateAuthority(options: IssueOptions = {}): Promise<PemPair> {
  const { notBefore, notAfter } = validity(options, DEFAULT_CA_DAYS);
  const keys = await generateKeys();
  const certificate = await X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: CA_NAME,
    notBefore,
    notAfter,
    signingAlgorithm: ALGORITHM,
    keys,
    extensions: [
      new BasicConstraintsExtension(true, 0, true),
      new KeyUsagesExtension(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign, true),
      await SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certificatePem: certificate.toString('pem'), privateKeyPem: await exportKey(keys.privateKey) };
}

/**
 * A certificate for one service, signed by the authority: it serves TLS and presents itself as a
 * client with the same certificate. Its names are the service's DNS name, localhost and 127.0.0.1
 * (what a peer on this machine dials), and `urn:fleet:service:<service>`, its identity.
 */
export async function issueServiceCertificate(
  authority: PemPair,
  service: string,
  options: IssueOptions = {},
): Promise<PemPair> {
  assertServiceName(service);
  return issueLeaf(authority, {
    subject: `CN=${service}`,
    usages: [ExtendedKeyUsage.serverAuth, ExtendedKeyUsage.clientAuth],
    names: [
      { type: 'dns', value: service },
      { type: 'dns', value: 'localhost' },
      { type: 'ip', value: '127.0.0.1' },
      { type: 'url', value: identityUri(service) },
    ],
    options,
  });
}

/**
 * The certificate the gateway shows its own clients when no other is configured: a server
 * certificate only, for the given DNS names and IP addresses. It names no service, so no service
 * accepts it as a caller.
 */
export async function issueEdgeCertificate(
  authority: PemPair,
  hostNames: readonly string[],
  options: IssueOptions = {},
): Promise<PemPair> {
  if (hostNames.length === 0) throw new Error('Invalid edge certificate: it needs at least one name');
  for (const name of hostNames) {
    if (!isHostName(name)) {
      throw new Error(
        `Invalid edge certificate name ${JSON.stringify(name)}: expected a DNS name or an IP address`,
      );
    }
  }
  return issueLeaf(authority, {
    subject: `CN=${hostNames[0]}`,
    usages: [ExtendedKeyUsage.serverAuth],
    names: hostNames.map((value) => ({ type: isIP(value) === 0 ? 'dns' : 'ip', value })),
    options,
  });
}

const HOST_NAME =
  /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

/** Whether a name can stand in a certificate for a host: a DNS name or an IP address. */
export function isHostName(name: string): boolean {
  return isIP(name) !== 0 || HOST_NAME.test(name);
}

interface LeafRequest {
  readonly subject: string;
  readonly usages: readonly ExtendedKeyUsage[];
  readonly names: readonly { type: 'dns' | 'ip' | 'url'; value: string }[];
  readonly options: IssueOptions;
}

async function issueLeaf(authority: PemPair, request: LeafRequest): Promise<PemPair> {
  const { notBefore, notAfter } = validity(request.options, DEFAULT_LEAF_DAYS);
  const caCertificate = new X509Certificate(authority.certificatePem);
  const caKey = await importKey(authority.privateKeyPem);
  const keys = await generateKeys();
  const certificate = await X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: request.subject,
    issuer: caCertificate.subject,
    notBefore,
    notAfter,
    signingAlgorithm: ALGORITHM,
    publicKey: keys.publicKey,
    signingKey: caKey,
    extensions: [
      new BasicConstraintsExtension(false, undefined, true),
      new KeyUsagesExtension(KeyUsageFlags.digitalSignature, true),
      new ExtendedKeyUsageExtension([...request.usages]),
      new SubjectAlternativeNameExtension(request.names.map((name) => ({ ...name }))),
      await SubjectKeyIdentifierExtension.create(keys.publicKey),
      await AuthorityKeyIdentifierExtension.create(caCertificate),
    ],
  });
  return { certificatePem: certificate.toString('pem'), privateKeyPem: await exportKey(keys.privateKey) };
}

function validity(options: IssueOptions, defaultDays: number): { notBefore: Date; notAfter: Date } {
  const days = options.days ?? defaultDays;
  if (!Number.isInteger(days) || days < 1) {
    throw new Error(
      `Invalid certificate validity: ${String(days)} days (expected a whole number, at least 1)`,
    );
  }
  const now = (options.now ?? new Date()).getTime();
  if (!Number.isFinite(now)) throw new Error('Invalid certificate start: not a date');
  return { notBefore: new Date(now - BACKDATE_MS), notAfter: new Date(now + days * DAY_MS) };
}

function generateKeys(): Promise<webcrypto.CryptoKeyPair> {
  return webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']);
}

async function exportKey(key: webcrypto.CryptoKey): Promise<string> {
  return PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
}

function importKey(pem: string): Promise<webcrypto.CryptoKey> {
  const der = createPrivateKey(pem).export({ type: 'pkcs8', format: 'der' });
  return webcrypto.subtle.importKey('pkcs8', der, ALGORITHM, false, ['sign']);
}

/** 16 random bytes, the first below 0x80 so the DER integer stays positive and 16 bytes long. */
function randomSerial(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0]! & 0x7f) | 0x01;
  return Buffer.from(bytes).toString('hex');
}
