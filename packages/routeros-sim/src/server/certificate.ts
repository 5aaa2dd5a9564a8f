import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { createRequire } from 'node:module';
import { createSecureContext, type SecureContext } from 'node:tls';

/** The API-SSL certificate of a simulator: self-signed ECDSA P-256, shared by all its routers. */
export interface SimulatorCertificate {
  readonly certificatePem: string;
  readonly privateKeyPem: string;
  /** As Node's X509Certificate.fingerprint256 prints it: `AB:CD:…`. */
  readonly fingerprint256: string;
  readonly secureContext: SecureContext;
}

let shared: Promise<SimulatorCertificate> | undefined;

/** One certificate per process, made the first time a simulator starts. */
export function simulatorCertificate(): Promise<SimulatorCertificate> {
  shared ??= generate();
  return shared;
}

/**
 * The certificate is made with @peculiar/x509 (WebCrypto, no binaries) in a short-lived child
 * process: loaded here, the library and its ASN.1 schemas would stay resident for the life of the
 * simulator (~18 MB of a budget meant for a thousand routers). The child gets the library paths and
 * prints the PEM pair as JSON.
 */
const GENERATOR = `
require(process.argv[1]);
const x509 = require(process.argv[2]);
const { webcrypto } = require('node:crypto');
(async () => {
  const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify']);
  const now = Date.now();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01' + Buffer.from(webcrypto.getRandomValues(new Uint8Array(8))).toString('hex'),
    name: 'CN=routeros-sim',
    notBefore: new Date(now - 24 * 3600 * 1000),
    notAfter: new Date(now + 10 * 365 * 24 * 3600 * 1000),
    signingAlgorithm: algorithm,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([
        { type: 'ip', value: '127.0.0.1' },
        { type: 'ip', value: '::1' },
        { type: 'dns', value: 'localhost' },
      ]),
    ],
  }, webcrypto);
  const privateKey = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  process.stdout.write(JSON.stringify({
    certificatePem: certificate.toString('pem'),
    privateKeyPem: x509.PemConverter.encode(privateKey, 'PRIVATE KEY'),
  }));
})().catch((error) => {
  process.stderr.write(String(error && error.stack || error));
  process.exit(1);
});
`;

async function generate(): Promise<SimulatorCertificate> {
  const require = createRequire(import.meta.url);
  const libraries = [require.resolve('reflect-metadata'), require.resolve('@peculiar/x509')];
  const output = await new Promise<string>((resolve, reject) =>
    execFile(process.execPath, ['-e', GENERATOR, ...libraries], (error, stdout, stderr) =>
      error
        ? reject(new Error(`could not make the API-SSL certificate: ${stderr || error.message}`))
        : resolve(stdout),
    ),
  );
  const { certificatePem, privateKeyPem } = JSON.parse(output) as {
    certificatePem: string;
    privateKeyPem: string;
  };
  return {
    certificatePem,
    privateKeyPem,
    fingerprint256: new X509Certificate(certificatePem).fingerprint256,
    secureContext: createSecureContext({ cert: certificatePem, key: privateKeyPem }),
  };
}
