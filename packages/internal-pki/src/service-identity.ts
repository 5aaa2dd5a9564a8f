import type { X509Certificate } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';

/** A service's name: also its file name under the PKI directory and its DNS name. */
const SERVICE_NAME = /^[a-z][a-z0-9-]{0,62}$/;

/** The URI SAN that names a service in its certificate. */
const IDENTITY_PREFIX = 'urn:fleet:service:';

/** Refuses a name that cannot be a service (and `ca`, whose files are the authority's). */
export function assertServiceName(name: string): void {
  if (!SERVICE_NAME.test(name) || name === 'ca' || name === 'edge') {
    throw new Error(
      `Invalid service name ${JSON.stringify(name)}: expected lowercase letters, digits and dashes, starting with a letter (not "ca" or "edge")`,
    );
  }
}

export function identityUri(service: string): string {
  return `${IDENTITY_PREFIX}${service}`;
}

/**
 * The service a certificate names in its `urn:fleet:service:<name>` URI SAN, or undefined when it
 * names none, or more than one. Takes what `tlsSocket.getPeerCertificate()` answers (an empty
 * object when the peer sent none) or a `node:crypto` X509Certificate. It reads the name only: the
 * caller must have checked the certificate first (an authorized socket, `socket.authorized`), as
 * anyone can write any name into a certificate their own CA signs.
 */
export function serviceIdentityOf(
  certificate: Pick<PeerCertificate, 'subjectaltname'> | X509Certificate | undefined,
): string | undefined {
  if (!certificate) return undefined;
  const altNames =
    (certificate as Partial<PeerCertificate>).subjectaltname ??
    (certificate as Partial<X509Certificate>).subjectAltName;
  if (!altNames) return undefined;
  // Node lists the names as `TYPE:value, TYPE:value`, and quotes a value that holds a comma or a
  // quote, so a split on ", " cannot be fooled by a name that contains one; a quoted value never
  // matches the plain form below.
  const names = new Set<string>();
  for (const entry of altNames.split(', ')) {
    if (!entry.startsWith(`URI:${IDENTITY_PREFIX}`)) continue;
    const name = entry.slice(`URI:${IDENTITY_PREFIX}`.length);
    if (!SERVICE_NAME.test(name)) return undefined;
    names.add(name);
  }
  return names.size === 1 ? [...names][0] : undefined;
}
