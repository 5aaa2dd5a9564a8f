import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import {
  DEFAULT_CA_DAYS,
  DEFAULT_LEAF_DAYS,
  createCertificateAuthority,
  issueEdgeCertificate,
  issueServiceCertificate,
  type PemPair,
} from './issue-certificates.js';
import { replaceFile } from './replace-file.js';
import { assertServiceName, serviceIdentityOf } from './service-identity.js';

export const DEFAULT_RENEW_BEFORE_DAYS = 30;

export interface PkiOptions {
  /** The moment to judge validity at and to issue from; defaults to the current time. */
  readonly now?: Date;
  /** Validity of a service certificate (default 90 days). */
  readonly leafDays?: number;
  /** Validity of the authority (default 10 years). */
  readonly caDays?: number;
  /** A certificate that expires within this many days is issued anew (default 30). */
  readonly renewBeforeDays?: number;
  /**
   * DNS names and IP addresses of an edge certificate to keep as `edge.crt`/`edge.key`: what the
   * gateway shows its own clients when no certificate of another authority is configured.
   */
  readonly edgeNames?: readonly string[];
}

export interface Pki<Service extends string> {
  /** The authority's certificate: what every service trusts, and nothing else. */
  readonly caCertificatePem: string;
  readonly services: Readonly<Record<Service, PemPair>>;
  /** The edge certificate, when `edgeNames` asked for one. */
  readonly edge: PemPair | undefined;
  /** What this call made anew (`ca` for the authority), so a caller knows whom to reload. */
  readonly issued: readonly ('ca' | 'edge' | Service)[];
}

const DAY_MS = 24 * 3600 * 1000;

/**
 * The federation's internal PKI, kept in `dir`: `ca.crt`/`ca.key` and `<service>.crt`/
 * `<service>.key` for each service. Everything still good is reused as it is; what is missing,
 * damaged, expiring within `renewBeforeDays`, not yet valid, or does not fit (a key that is not the
 * certificate's, a certificate the current authority did not sign or that names another service)
 * is issued anew. A new authority therefore re-issues every service certificate. Keys are written
 * 0600 and the directory 0700; looser modes found on them are tightened. Files are replaced by a
 * rename, never rewritten in place. One process manages a directory at a time.
 */
export async function loadOrCreatePki<const Service extends string>(
  dir: string,
  services: readonly Service[],
  options: PkiOptions = {},
): Promise<Pki<Service>> {
  for (const service of services) assertServiceName(service);
  if (new Set(services).size !== services.length) throw new Error('Invalid services: a name is listed twice');
  const leafDays = options.leafDays ?? DEFAULT_LEAF_DAYS;
  const caDays = options.caDays ?? DEFAULT_CA_DAYS;
  const renewBeforeDays = options.renewBeforeDays ?? DEFAULT_RENEW_BEFORE_DAYS;
  if (!Number.isInteger(renewBeforeDays) || renewBeforeDays < 0) {
    throw new Error(
      `Invalid renewBeforeDays: ${String(renewBeforeDays)} (expected a whole number, 0 or more)`,
    );
  }
  for (const [name, days] of [
    ['leafDays', leafDays],
    ['caDays', caDays],
  ] as const) {
    // A certificate that is due for renewal the moment it is made would be issued on every call.
    if (!Number.isInteger(days) || days <= renewBeforeDays) {
      throw new Error(
        `Invalid ${name}: ${String(days)} (expected a whole number above renewBeforeDays, ${renewBeforeDays})`,
      );
    }
  }
  const now = options.now ?? new Date();
  const renewAt = now.getTime() + renewBeforeDays * DAY_MS;

  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if ((statSync(dir).mode & 0o077) !== 0) chmodSync(dir, 0o700);

  const issued: ('ca' | 'edge' | Service)[] = [];
  let ca = readPair(dir, 'ca');
  let caCertificate = ca && usableAuthority(ca, now, renewAt);
  if (!ca || !caCertificate) {
    ca = await createCertificateAuthority({ now, days: caDays });
    writePair(dir, 'ca', ca);
    caCertificate = new X509Certificate(ca.certificatePem);
    issued.push('ca');
  }

  const result = {} as Record<Service, PemPair>;
  for (const service of services) {
    let pair = readPair(dir, service);
    const fits = (certificate: X509Certificate) => serviceIdentityOf(certificate) === service;
    if (!pair || !usableLeaf(pair, caCertificate, now, renewAt, fits)) {
      pair = await issueServiceCertificate(ca, service, { now, days: leafDays });
      writePair(dir, service, pair);
      issued.push(service);
    }
    result[service] = pair;
  }
  let edge: PemPair | undefined;
  if (options.edgeNames) {
    edge = readPair(dir, 'edge');
    const altNames = edgeAltNames(options.edgeNames);
    const fits = (certificate: X509Certificate) => certificate.subjectAltName === altNames;
    if (!edge || !usableLeaf(edge, caCertificate, now, renewAt, fits)) {
      edge = await issueEdgeCertificate(ca, options.edgeNames, { now, days: leafDays });
      writePair(dir, 'edge', edge);
      issued.push('edge');
    }
  }
  return { caCertificatePem: ca.certificatePem, services: result, edge, issued };
}

/** The pair's certificate when it is a live authority whose key is the one beside it. */
function usableAuthority(pair: PemPair, now: Date, renewAt: number): X509Certificate | undefined {
  const parsed = parse(pair);
  if (!parsed) return undefined;
  const { certificate, key } = parsed;
  const usable =
    certificate.ca &&
    certificate.checkPrivateKey(key) &&
    certificate.checkIssued(certificate) &&
    certificate.verify(certificate.publicKey) &&
    live(certificate, now, renewAt);
  return usable ? certificate : undefined;
}

/**
 * Whether a leaf is still good: the pair's own, the authority's, no authority itself, valid now
 * and past the renewal horizon, and naming what it must (`fits`).
 */
function usableLeaf(
  pair: PemPair,
  authority: X509Certificate,
  now: Date,
  renewAt: number,
  fits: (certificate: X509Certificate) => boolean,
): boolean {
  const parsed = parse(pair);
  if (!parsed) return false;
  const { certificate, key } = parsed;
  return (
    !certificate.ca &&
    certificate.checkPrivateKey(key) &&
    certificate.checkIssued(authority) &&
    certificate.verify(authority.publicKey) &&
    fits(certificate) &&
    live(certificate, now, renewAt)
  );
}

/** The subject alternative names of an edge certificate for `names`, as Node lists them. */
function edgeAltNames(names: readonly string[]): string {
  return names.map((name) => `${isIP(name) === 0 ? 'DNS' : 'IP Address'}:${name}`).join(', ');
}

function live(certificate: X509Certificate, now: Date, renewAt: number): boolean {
  return (
    new Date(certificate.validFrom).getTime() <= now.getTime() &&
    new Date(certificate.validTo).getTime() > renewAt
  );
}

/** Undefined when either file cannot be parsed: a damaged pair is issued anew. */
function parse(pair: PemPair): { certificate: X509Certificate; key: KeyObject } | undefined {
  try {
    return {
      certificate: new X509Certificate(pair.certificatePem),
      key: createPrivateKey(pair.privateKeyPem),
    };
  } catch {
    return undefined;
  }
}

/** Both files of a name, or undefined when either is missing. Any other read failure is thrown. */
function readPair(dir: string, name: string): PemPair | undefined {
  const keyPath = join(dir, `${name}.key`);
  const privateKeyPem = readIfPresent(keyPath);
  const certificatePem = readIfPresent(join(dir, `${name}.crt`));
  if (privateKeyPem === undefined || certificatePem === undefined) return undefined;
  if ((statSync(keyPath).mode & 0o077) !== 0) chmodSync(keyPath, 0o600);
  return { certificatePem, privateKeyPem };
}

function readIfPresent(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`Cannot read ${path}: ${(error as Error).message}`);
  }
}

/** The key first: a stop between the two leaves a key that fits no certificate, issued anew next time. */
function writePair(dir: string, name: string, pair: PemPair): void {
  replaceFile(join(dir, `${name}.key`), pair.privateKeyPem, 0o600);
  replaceFile(join(dir, `${name}.crt`), pair.certificatePem, 0o644);
}
