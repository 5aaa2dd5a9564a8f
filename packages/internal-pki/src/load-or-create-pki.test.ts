import { createPrivateKey, X509Certificate } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOrCreatePki, serviceIdentityOf } from './index.js';

const SERVICES = ['gateway', 'billing', 'audit'] as const;
const DAY_MS = 24 * 3600 * 1000;
let root: string;
let count = 0;
/** A PKI directory of its own for each test, not created yet. */
const freshDir = () => join(root, `case-${++count}`, 'pki');

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'internal-pki-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Every file of the directory, name to contents. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const name of (await readdir(dir)).sort()) files[name] = await readFile(join(dir, name), 'utf8');
  return files;
}

const modeOf = async (path: string) => (await stat(path)).mode & 0o777;

describe('loadOrCreatePki', () => {
  it('creates an authority and one certificate per service, with keys 0600 in a 0700 directory', async () => {
    const dir = freshDir();
    const pki = await loadOrCreatePki(dir, SERVICES);
    expect(pki.issued).toEqual(['ca', ...SERVICES]);
    expect(Object.keys(await snapshot(dir))).toEqual([
      'audit.crt',
      'audit.key',
      'billing.crt',
      'billing.key',
      'ca.crt',
      'ca.key',
      'gateway.crt',
      'gateway.key',
    ]);
    expect(await modeOf(dir)).toBe(0o700);
    for (const name of ['ca', ...SERVICES]) expect(await modeOf(join(dir, `${name}.key`))).toBe(0o600);

    const ca = new X509Certificate(pki.caCertificatePem);
    expect(ca.ca).toBe(true);
    expect(ca.subject).toBe('CN=Fleet internal CA');
    expect(ca.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    const caYears = (Date.parse(ca.validTo) - Date.now()) / (365 * DAY_MS);
    expect(caYears).toBeGreaterThan(9.9);
    for (const service of SERVICES) {
      const leaf = new X509Certificate(pki.services[service].certificatePem);
      expect(leaf.ca).toBe(false);
      expect(leaf.checkIssued(ca) && leaf.verify(ca.publicKey)).toBe(true);
      expect(leaf.checkPrivateKey(createPrivateKey(pki.services[service].privateKeyPem))).toBe(true);
      expect(leaf.subjectAltName).toBe(
        `DNS:${service}, DNS:localhost, IP Address:127.0.0.1, URI:urn:fleet:service:${service}`,
      );
      expect(leaf.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
      expect(serviceIdentityOf(leaf)).toBe(service);
      const leafDays = (Date.parse(leaf.validTo) - Date.now()) / DAY_MS;
      expect(leafDays).toBeGreaterThan(89.9);
      expect(leafDays).toBeLessThan(90.1);
    }
  });

  it('reuses what is still good, byte for byte', async () => {
    const dir = freshDir();
    const first = await loadOrCreatePki(dir, SERVICES);
    const files = await snapshot(dir);
    const again = await loadOrCreatePki(dir, SERVICES, { now: new Date(Date.now() + 59 * DAY_MS) });
    expect(again.issued).toEqual([]);
    expect(again).toEqual({ ...first, issued: [] });
    expect(await snapshot(dir)).toEqual(files);
  });

  it('re-issues a service certificate that expires within renewBeforeDays, and only that one', async () => {
    const dir = freshDir();
    const start = Date.now();
    await loadOrCreatePki(dir, ['gateway', 'billing'], { leafDays: 90 });
    const before = await snapshot(dir);
    // audit joins 20 days later, so its certificate outlives the renewal window of the others.
    await loadOrCreatePki(dir, ['gateway', 'billing', 'audit'], { now: new Date(start + 20 * DAY_MS) });
    const audit = (await snapshot(dir))['audit.crt'];
    const later = new Date(start + 61 * DAY_MS);
    const renewed = await loadOrCreatePki(dir, ['gateway', 'billing', 'audit'], { now: later });
    expect(renewed.issued).toEqual(['gateway', 'billing']);
    const after = await snapshot(dir);
    expect(after['ca.crt']).toBe(before['ca.crt']);
    expect(after['ca.key']).toBe(before['ca.key']);
    expect(after['gateway.crt']).not.toBe(before['gateway.crt']);
    expect(after['gateway.key']).not.toBe(before['gateway.key']);
    expect(after['billing.crt']).not.toBe(before['billing.crt']);
    expect(after['audit.crt']).toBe(audit);
    const gateway = new X509Certificate(renewed.services.gateway.certificatePem);
    expect(Date.parse(gateway.validTo)).toBeGreaterThan(later.getTime() + 89 * DAY_MS);
    expect(renewed.services.gateway.certificatePem).toBe(after['gateway.crt']);
  });

  it('honours renewBeforeDays and leafDays', async () => {
    const dir = freshDir();
    const start = Date.now();
    await loadOrCreatePki(dir, ['gateway'], { leafDays: 10, renewBeforeDays: 2 });
    const kept = await loadOrCreatePki(dir, ['gateway'], {
      now: new Date(start + 7 * DAY_MS),
      leafDays: 10,
      renewBeforeDays: 2,
    });
    expect(kept.issued).toEqual([]);
    const renewed = await loadOrCreatePki(dir, ['gateway'], {
      now: new Date(start + 8.5 * DAY_MS),
      leafDays: 10,
      renewBeforeDays: 2,
    });
    expect(renewed.issued).toEqual(['gateway']);
  });

  it('re-issues a service certificate whose key is not its own', async () => {
    const dir = freshDir();
    await loadOrCreatePki(dir, SERVICES);
    await writeFile(join(dir, 'billing.key'), await readFile(join(dir, 'gateway.key')), { mode: 0o600 });
    const before = await snapshot(dir);
    const pki = await loadOrCreatePki(dir, SERVICES);
    expect(pki.issued).toEqual(['billing']);
    const after = await snapshot(dir);
    expect(after['billing.key']).not.toBe(before['billing.key']);
    expect(after['gateway.key']).toBe(before['gateway.key']);
  });

  it('re-issues a service certificate that another authority signed, or that names another service', async () => {
    const dir = freshDir();
    const other = freshDir();
    await loadOrCreatePki(dir, SERVICES);
    await loadOrCreatePki(other, SERVICES);
    for (const ext of ['crt', 'key']) {
      await writeFile(join(dir, `billing.${ext}`), await readFile(join(other, `billing.${ext}`)));
      await writeFile(join(dir, `audit.${ext}`), await readFile(join(dir, `gateway.${ext}`)));
    }
    const pki = await loadOrCreatePki(dir, SERVICES);
    expect(pki.issued).toEqual(['billing', 'audit']);
    expect(serviceIdentityOf(new X509Certificate(pki.services.audit.certificatePem))).toBe('audit');
    const ca = new X509Certificate(pki.caCertificatePem);
    expect(new X509Certificate(pki.services.billing.certificatePem).verify(ca.publicKey)).toBe(true);
  });

  it('makes a new authority when its key is damaged, and so re-issues every service', async () => {
    const dir = freshDir();
    const first = await loadOrCreatePki(dir, SERVICES);
    await writeFile(
      join(dir, 'ca.key'),
      '-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n',
    );
    const pki = await loadOrCreatePki(dir, SERVICES);
    expect(pki.issued).toEqual(['ca', ...SERVICES]);
    expect(pki.caCertificatePem).not.toBe(first.caCertificatePem);
    const ca = new X509Certificate(pki.caCertificatePem);
    for (const service of SERVICES) {
      expect(new X509Certificate(pki.services[service].certificatePem).verify(ca.publicKey)).toBe(true);
    }
  });

  it('re-issues a service whose key or certificate is damaged or missing', async () => {
    const dir = freshDir();
    await loadOrCreatePki(dir, SERVICES);
    await writeFile(join(dir, 'gateway.key'), 'garbage');
    await writeFile(join(dir, 'billing.crt'), '');
    await rm(join(dir, 'audit.key'));
    const before = await snapshot(dir);
    const pki = await loadOrCreatePki(dir, SERVICES);
    expect(pki.issued).toEqual(SERVICES);
    const after = await snapshot(dir);
    expect(after['ca.key']).toBe(before['ca.key']);
    expect(await modeOf(join(dir, 'audit.key'))).toBe(0o600);
    expect(Object.keys(after).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });

  it('tightens a directory and keys left open to others, keeping their contents', async () => {
    const dir = freshDir();
    await loadOrCreatePki(dir, SERVICES);
    const before = await snapshot(dir);
    await chmod(dir, 0o755);
    await chmod(join(dir, 'ca.key'), 0o644);
    await chmod(join(dir, 'billing.key'), 0o640);
    const pki = await loadOrCreatePki(dir, SERVICES);
    expect(pki.issued).toEqual([]);
    expect(await modeOf(dir)).toBe(0o700);
    expect(await modeOf(join(dir, 'ca.key'))).toBe(0o600);
    expect(await modeOf(join(dir, 'billing.key'))).toBe(0o600);
    expect(await snapshot(dir)).toEqual(before);
  });

  it('refuses bad input before it touches the directory', async () => {
    const dir = freshDir();
    await expect(loadOrCreatePki(dir, ['Gateway'])).rejects.toThrow(/Invalid service name "Gateway"/);
    await expect(loadOrCreatePki(dir, ['../etc'])).rejects.toThrow(/Invalid service name/);
    await expect(loadOrCreatePki(dir, ['ca'])).rejects.toThrow(/Invalid service name "ca"/);
    await expect(loadOrCreatePki(dir, ['billing', 'billing'])).rejects.toThrow(/listed twice/);
    await expect(loadOrCreatePki(dir, ['billing'], { leafDays: 30 })).rejects.toThrow(/Invalid leafDays: 30/);
    await expect(loadOrCreatePki(dir, ['billing'], { renewBeforeDays: -1 })).rejects.toThrow(
      /renewBeforeDays/,
    );
    await expect(stat(dir)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('says which file it cannot read rather than replacing it', async () => {
    const dir = freshDir();
    await mkdir(join(dir, 'billing.key'), { recursive: true });
    await expect(loadOrCreatePki(dir, ['billing'])).rejects.toThrow(
      `Cannot read ${join(dir, 'billing.key')}`,
    );
    expect((await stat(join(dir, 'billing.key'))).isDirectory()).toBe(true);
  });
});

describe('serviceIdentityOf', () => {
  it('answers undefined for a peer that sent no certificate, or one that names no service', () => {
    expect(serviceIdentityOf({})).toBeUndefined();
    expect(serviceIdentityOf(undefined)).toBeUndefined();
    expect(serviceIdentityOf({ subjectaltname: 'DNS:billing, IP Address:127.0.0.1' })).toBeUndefined();
  });

  it('answers undefined for a certificate that names two services or a malformed one', () => {
    expect(
      serviceIdentityOf({ subjectaltname: 'URI:urn:fleet:service:gateway, URI:urn:fleet:service:billing' }),
    ).toBeUndefined();
    expect(serviceIdentityOf({ subjectaltname: 'URI:urn:fleet:service:Gateway' })).toBeUndefined();
    expect(serviceIdentityOf({ subjectaltname: 'URI:"urn:fleet:service:gateway, URI:x"' })).toBeUndefined();
    expect(serviceIdentityOf({ subjectaltname: 'DNS:x, URI:urn:fleet:service:gateway' })).toBe('gateway');
  });
});
