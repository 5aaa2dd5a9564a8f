import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** Where a TLS endpoint's certificate, key and (for mutual TLS) trusted authority are kept. */
export interface CertificateFiles {
  readonly certFile: string;
  readonly keyFile: string;
  /** The authority peers' certificates must chain to; absent for the edge, which asks for none. */
  readonly caFile?: string | undefined;
}

/** What the files held, checked: a certificate chain, its key, and the authority, all PEM. */
export interface CertificateMaterial {
  readonly cert: string;
  readonly key: string;
  readonly ca: string | undefined;
  /** The first certificate of `cert`: the endpoint's own. */
  readonly leaf: X509Certificate;
}

/**
 * Reads and checks certificate files: every file readable, the key the certificate's, the
 * certificate valid now and (when an authority is given) issued by it. Throws an error naming the
 * file and what is wrong with it; never the key's contents.
 */
export function readCertificateFiles(files: CertificateFiles, now = new Date()): CertificateMaterial {
  const cert = readPem(files.certFile, 'certificate');
  const key = readPem(files.keyFile, 'private key');
  const ca = files.caFile ? readPem(files.caFile, 'authority certificate') : undefined;
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
  } catch {
    throw new Error(`${files.certFile} holds no readable PEM certificate`);
  }
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch {
    throw new Error(`${files.keyFile} holds no readable PEM private key`);
  }
  if (!leaf.checkPrivateKey(privateKey)) {
    throw new Error(`${files.keyFile} is not the private key of the certificate in ${files.certFile}`);
  }
  if (Date.parse(leaf.validTo) <= now.getTime()) {
    throw new Error(
      `The certificate in ${files.certFile} expired on ${new Date(leaf.validTo).toISOString()}`,
    );
  }
  if (Date.parse(leaf.validFrom) > now.getTime()) {
    throw new Error(
      `The certificate in ${files.certFile} is not valid before ${new Date(leaf.validFrom).toISOString()}`,
    );
  }
  if (ca !== undefined && files.caFile) {
    const authorities = splitPem(ca).map((pem) => {
      try {
        return new X509Certificate(pem);
      } catch {
        throw new Error(`${files.caFile} holds a certificate that cannot be read`);
      }
    });
    if (authorities.length === 0) throw new Error(`${files.caFile} holds no PEM certificate`);
    const issuedByOne = authorities.some(
      (authority) => leaf.checkIssued(authority) && leaf.verify(authority.publicKey),
    );
    // A chain (leaf, then intermediates) is checked by TLS itself; a lone leaf must be the authority's.
    if (!issuedByOne && splitPem(cert).length === 1) {
      throw new Error(
        `The certificate in ${files.certFile} is not issued by the authority in ${files.caFile}`,
      );
    }
  }
  return { cert, key, ca, leaf };
}

function readPem(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(
      `Cannot read the ${what} file ${path}: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}`,
    );
  }
}

function splitPem(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}
