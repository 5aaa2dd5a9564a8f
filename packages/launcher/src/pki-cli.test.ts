import { spawn } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { serviceIdentityOf } from '@fleet/internal-pki';
import { PKI_SERVICES, parsePkiCliArgs, publishPki, runPkiCli } from './pki-cli-core.js';

const DAY_MS = 24 * 3600 * 1000;
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function workDir(): { stateDir: string; outDir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'fleet-pki-cli-'));
  dirs.push(dir);
  return { stateDir: join(dir, 'state'), outDir: join(dir, 'out') };
}

/** Every file under a directory, relative to it, sorted. */
function filesUnder(dir: string): string[] {
  return (
    readdirSync(dir, { recursive: true, withFileTypes: true }) as { name: string; parentPath: string }[]
  )
    .filter((entry) => statSync(join(entry.parentPath, entry.name)).isFile())
    .map((entry) => join(entry.parentPath, entry.name).slice(dir.length + 1))
    .sort();
}

const mode = (path: string): number => statSync(path).mode & 0o777;
const read = (path: string): string => readFileSync(path, 'utf8');

describe('publishPki', () => {
  it('gives each service a directory holding its own certificate and key and the authority only', async () => {
    const { stateDir, outDir } = workDir();
    const edgeNames = ['fleet.example.com', 'localhost', '127.0.0.1'];
    const publication = await publishPki({ stateDir, outDir, edgeNames });

    expect([...publication.issued].sort()).toEqual(['ca', 'edge', ...PKI_SERVICES].sort());
    const expected = PKI_SERVICES.flatMap((service) =>
      ['ca.crt', 'tls.crt', 'tls.key', ...(service === 'gateway' ? ['edge.crt', 'edge.key'] : [])].map(
        (name) => `${service}/${name}`,
      ),
    ).sort();
    expect(filesUnder(outDir)).toEqual(expected);
    expect([...publication.written].sort()).toEqual(expected);

    const caPem = read(join(stateDir, 'ca.crt'));
    const authority = new X509Certificate(caPem);
    const caKey = read(join(stateDir, 'ca.key'));
    for (const service of PKI_SERVICES) {
      const dir = join(outDir, service);
      expect(mode(dir), `${service}/`).toBe(0o700);
      expect(read(join(dir, 'ca.crt')), `${service}/ca.crt`).toBe(caPem);
      const certificate = new X509Certificate(read(join(dir, 'tls.crt')));
      expect(serviceIdentityOf(certificate), `${service}/tls.crt names`).toBe(service);
      expect(certificate.verify(authority.publicKey)).toBe(true);
      expect(certificate.checkPrivateKey(createPrivateKey(read(join(dir, 'tls.key'))))).toBe(true);
      expect(mode(join(dir, 'tls.key')), `${service}/tls.key`).toBe(0o600);
      expect(mode(join(dir, 'tls.crt')), `${service}/tls.crt`).toBe(0o644);
      // Nothing in the directory is the authority's key or the key of another service.
      for (const name of readdirSync(dir)) {
        const contents = read(join(dir, name));
        expect(contents, `${service}/${name}`).not.toBe(caKey);
        for (const other of PKI_SERVICES.filter((candidate) => candidate !== service)) {
          expect(contents, `${service}/${name} is ${other}'s key`).not.toBe(
            read(join(stateDir, `${other}.key`)),
          );
        }
      }
    }
    const edge = new X509Certificate(read(join(outDir, 'gateway/edge.crt')));
    expect(edge.subjectAltName).toBe('DNS:fleet.example.com, DNS:localhost, IP Address:127.0.0.1');
    expect(edge.verify(authority.publicKey)).toBe(true);
    expect(edge.checkPrivateKey(createPrivateKey(read(join(outDir, 'gateway/edge.key'))))).toBe(true);
    expect(mode(join(outDir, 'gateway/edge.key'))).toBe(0o600);
  });

  it('rewrites nothing while everything is good, and tightens modes that were loosened', async () => {
    const { stateDir, outDir } = workDir();
    const edgeNames = ['localhost'];
    await publishPki({ stateDir, outDir, edgeNames });
    const before = statSync(join(outDir, 'aaa/tls.crt')).ino;
    chmodSync(join(outDir, 'devices/tls.key'), 0o644);
    chmodSync(join(outDir, 'billing'), 0o755);

    const again = await publishPki({ stateDir, outDir, edgeNames });
    expect(again).toEqual({ issued: [], written: [] });
    expect(statSync(join(outDir, 'aaa/tls.crt')).ino).toBe(before);
    expect(mode(join(outDir, 'devices/tls.key'))).toBe(0o600);
    expect(mode(join(outDir, 'billing'))).toBe(0o700);
  });

  it('republishes what was renewed, and only that', async () => {
    const { stateDir, outDir } = workDir();
    const edgeNames = ['localhost'];
    const start = new Date();
    await publishPki({ stateDir, outDir, edgeNames, now: start });
    const oldAaa = read(join(outDir, 'aaa/tls.crt'));
    const oldCa = read(join(outDir, 'aaa/ca.crt'));

    // 90-day certificates are due 30 days before they end.
    const later = await publishPki({
      stateDir,
      outDir,
      edgeNames,
      now: new Date(start.getTime() + 70 * DAY_MS),
    });
    expect([...later.issued].sort()).toEqual(['edge', ...PKI_SERVICES].sort());
    expect([...later.written].sort()).toEqual(
      [
        'gateway/edge.crt',
        'gateway/edge.key',
        ...PKI_SERVICES.flatMap((service) => [`${service}/tls.crt`, `${service}/tls.key`]),
      ].sort(),
    );
    expect(read(join(outDir, 'aaa/ca.crt'))).toBe(oldCa);
    const renewed = new X509Certificate(read(join(outDir, 'aaa/tls.crt')));
    expect(renewed.raw.equals(new X509Certificate(oldAaa).raw)).toBe(false);
    expect(renewed.checkPrivateKey(createPrivateKey(read(join(outDir, 'aaa/tls.key'))))).toBe(true);
    expect(read(join(outDir, 'aaa/tls.crt'))).toBe(read(join(stateDir, 'aaa.crt')));
  });

  it('issues a new edge certificate when the names change', async () => {
    const { stateDir, outDir } = workDir();
    await publishPki({ stateDir, outDir, edgeNames: ['localhost'] });
    const changed = await publishPki({ stateDir, outDir, edgeNames: ['localhost', 'fleet.example.org'] });
    expect(changed.issued).toEqual(['edge']);
    expect(changed.written).toEqual(['gateway/edge.key', 'gateway/edge.crt']);
    expect(new X509Certificate(read(join(outDir, 'gateway/edge.crt'))).subjectAltName).toBe(
      'DNS:localhost, DNS:fleet.example.org',
    );
  });
});

describe('the command line', () => {
  it('reads its options, with a space or an equals sign, and takes a URL’s host as an edge name', () => {
    expect(
      parsePkiCliArgs([
        '--watch',
        '--state=/var/lib/pki-state',
        '--out',
        '/var/lib/pki',
        'Fleet.Example.com',
        'https://fleet.example.com:4000/',
        'https://[::1]:4000',
        '10.0.0.7',
      ]),
    ).toEqual({
      stateDir: '/var/lib/pki-state',
      outDir: '/var/lib/pki',
      watch: true,
      edgeNames: ['fleet.example.com', '::1', '10.0.0.7'],
      help: false,
    });
    expect(parsePkiCliArgs(['--state', '/a', '--out', '/b'])).toMatchObject({
      watch: false,
      edgeNames: ['localhost', '127.0.0.1'],
    });
  });

  it.each([
    [['--out', '/b'], '--state <dir> is required'],
    [['--state', '/a'], '--out <dir> is required'],
    [['--state', '--out', '/b'], '--state takes a directory'],
    [['--state', '/a', '--out'], '--out takes a directory'],
    [['--state', '/a', '--out', '/a'], 'neither inside the other'],
    [['--state', '/a/published/state', '--out', '/a/published'], 'neither inside the other'],
    [['--state', '/a', '--out', '/a/out'], 'neither inside the other'],
    [['--state', '/a', '--out', '/b', '--renew'], 'unknown option --renew'],
    [['--state', '/a', '--out', '/b', 'not a name'], 'edge name "not a name"'],
    [['--state', '/a', '--out', '/b', 'https://'], 'is not a URL'],
  ])('refuses %j', async (argv, message) => {
    const errors: string[] = [];
    const code = await runPkiCli(argv, { stderr: (text) => errors.push(text), stdout: () => undefined });
    expect(code).toBe(2);
    expect(errors.join('')).toContain(message);
    expect(errors.join('')).toContain('Usage: pki-cli --state <dir> --out <dir>');
  });

  it('with --watch, looks again and republishes what was renewed until it is stopped', async () => {
    const { stateDir, outDir } = workDir();
    const start = Date.now();
    let clock = start;
    const output: string[] = [];
    const stop = new AbortController();
    const run = runPkiCli(['--watch', '--state', stateDir, '--out', outDir, 'localhost'], {
      intervalMs: 20,
      now: () => new Date(clock),
      stdout: (text) => output.push(text),
      stderr: (text) => output.push(text),
      signal: stop.signal,
    });
    await expect.poll(() => output.join('')).toContain('watching');
    const first = read(join(outDir, 'billing/tls.crt'));
    clock = start + 70 * DAY_MS;
    await expect.poll(() => read(join(outDir, 'billing/tls.crt')), { timeout: 10_000 }).not.toBe(first);
    await expect.poll(() => output.join('')).toContain('billing/tls.crt');
    stop.abort();
    expect(await run).toBe(0);
    expect(read(join(outDir, 'billing/tls.crt'))).toBe(read(join(stateDir, 'billing.crt')));
  });
});

// The process as docker-compose.yml runs it (npm test builds first).
const cli = fileURLToPath(new URL('../dist/pki-cli.js', import.meta.url));

function runCli(args: string[]): {
  exited: Promise<{ code: number | null; stdout: string; stderr: string }>;
  output: () => string;
  kill: (signal: NodeJS.Signals) => void;
} {
  const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return {
    exited: new Promise((done) => child.once('exit', (code) => done({ code, stdout, stderr }))),
    output: () => stdout,
    kill: (signal) => child.kill(signal),
  };
}

describe('the built command', () => {
  it('publishes once and exits 0', async () => {
    const { stateDir, outDir } = workDir();
    const { code, stdout } = await runCli(['--state', stateDir, '--out', outDir, 'fleet.example.com']).exited;
    expect(code).toBe(0);
    expect(stdout).toContain('issued: ca');
    expect(readdirSync(outDir).sort()).toEqual([...PKI_SERVICES].sort());
    expect(new X509Certificate(read(join(outDir, 'gateway/edge.crt'))).subjectAltName).toBe(
      'DNS:fleet.example.com',
    );
  });

  it('explains what it needs and exits 2 on a command line it cannot use', async () => {
    const { code, stderr } = await runCli(['--out', '/nowhere']).exited;
    expect(code).toBe(2);
    expect(stderr).toContain('pki-cli: --state <dir> is required');
    expect(stderr).toContain('--watch');
  });

  it('exits 1, saying why, when it cannot write', async () => {
    const { stateDir, outDir } = workDir();
    // A file where the output directory should be.
    writeFileSync(outDir, 'not a directory');
    const { code, stderr } = await runCli(['--state', stateDir, '--out', join(outDir, 'pki')]).exited;
    expect(code).toBe(1);
    expect(stderr).toMatch(/^pki-cli: .*(ENOTDIR|EEXIST|not a directory)/m);
  });

  it('keeps running with --watch and ends cleanly on SIGTERM', async () => {
    const { stateDir, outDir } = workDir();
    const process = runCli(['--watch', '--state', stateDir, '--out', outDir]);
    await expect.poll(process.output, { timeout: 20_000 }).toContain('watching');
    expect(statSync(join(outDir, 'audit/tls.key')).isFile()).toBe(true);
    process.kill('SIGTERM');
    const { code } = await process.exited;
    expect(code).toBe(0);
  });
});
