import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKey } from '@fleet/request-signing';
import { testPki } from '../support/test-pki.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a built service entry point until it exits (or is stopped after `stopAfterMs`). */
function run(entry: string, env: Record<string, string>, stopAfterReady = false): Promise<Exit> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(ROOT, entry)], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stopAfterReady && stdout.includes('"msg":"listening"')) child.kill('SIGTERM');
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('service processes', () => {
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'fleet-proc-'));
  });

  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('exits non-zero listing every configuration problem, without echoing secrets', async () => {
    const secretLooking = 'postgres://user:hunter2-secret@db/x';
    const result = await run('subgraphs/devices/dist/main.js', {
      DEVICES_PORT: 'eighty',
      DEVICES_KEY_GATEWAY: 'short',
      DEVICES_LOG_LEVEL: 'loud',
      DEVICES_DATABASE_URL: secretLooking.replace('postgres:', 'mysql:'),
      DEVICES_DATA_DIR: join(dataDir, 'devices'),
    });
    expect(result.code).toBe(1);
    for (const problem of [
      'DEVICES_PORT: must be a whole number',
      'DEVICES_KEY_GATEWAY: must hold at least 32 bytes',
      'DEVICES_LOG_LEVEL: must be one of',
      'DEVICES_DATABASE_URL: must be a postgres:// URL',
      'DEVICES_KEY_AUDIT: is required',
    ]) {
      expect(result.stderr).toContain(problem);
    }
    expect(result.stderr + result.stdout).not.toContain('hunter2-secret');
    expect(result.stderr + result.stdout).not.toContain('short');
  });

  it('stops cleanly on SIGTERM with exit code 0', async () => {
    const result = await run(
      'subgraphs/billing/dist/main.js',
      {
        BILLING_PORT: '0',
        BILLING_DATA_DIR: join(dataDir, 'billing'),
        BILLING_KEY_GATEWAY: generateKey(),
        BILLING_KEY_AUDIT: generateKey(),
        BILLING_KEY_DEVICES: generateKey(),
        BILLING_AUDIT_URL: 'https://127.0.0.1:9',
        ...(await testPki()).env('billing'),
      },
      true,
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('"msg":"stopped"');
  });

  it('refuses to start without its certificates, and talks plain HTTP only when told to, warning', async () => {
    const env = {
      BILLING_PORT: '0',
      BILLING_DATA_DIR: join(dataDir, 'billing-plain'),
      BILLING_KEY_GATEWAY: generateKey(),
      BILLING_KEY_AUDIT: generateKey(),
      BILLING_KEY_DEVICES: generateKey(),
    };
    const refused = await run('subgraphs/billing/dist/main.js', {
      ...env,
      BILLING_AUDIT_URL: 'https://127.0.0.1:9',
    });
    expect(refused.code).toBe(1);
    for (const variable of ['BILLING_MTLS_CERT_FILE', 'BILLING_MTLS_KEY_FILE', 'BILLING_MTLS_CA_FILE'])
      expect(refused.stdout).toContain(
        `${variable}: required, as billing talks to the other services over mutual TLS`,
      );

    const mixed = await run('subgraphs/billing/dist/main.js', {
      ...env,
      ...(await testPki()).env('billing'),
      BILLING_AUDIT_URL: 'http://127.0.0.1:9',
    });
    expect(mixed.code).toBe(1);
    expect(mixed.stdout).toContain('BILLING_AUDIT_URL: must be an https:// URL');

    const plain = await run(
      'subgraphs/billing/dist/main.js',
      {
        ...env,
        BILLING_MTLS_DISABLED: 'true',
        BILLING_AUDIT_URL: 'http://127.0.0.1:9',
        BILLING_DEVICES_URL: 'http://127.0.0.1:9',
      },
      true,
    );
    expect(plain.code).toBe(0);
    expect(plain.stdout).toMatch(/"level":"warn".*mutual TLS is OFF \(BILLING_MTLS_DISABLED\)/);
  });

  it('refuses a second process on the same embedded data directory, naming the holder', async () => {
    const env = {
      AUDIT_PORT: '0',
      AUDIT_DATA_DIR: join(dataDir, 'audit'),
      AUDIT_KEY_GATEWAY: generateKey(),
      AUDIT_KEY_AAA: generateKey(),
      AUDIT_KEY_DEVICES: generateKey(),
      AUDIT_KEY_BILLING: generateKey(),
      ...(await testPki()).env('audit'),
    };
    const first = spawn(process.execPath, [join(ROOT, 'subgraphs/audit/dist/main.js')], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      await new Promise<void>((resolve) => {
        let out = '';
        first.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          if (out.includes('"msg":"listening"')) resolve();
        });
      });
      const second = await run('subgraphs/audit/dist/main.js', env);
      expect(second.code).toBe(1);
      expect(second.stdout).toContain(`is in use by process ${first.pid}`);
    } finally {
      const exited = new Promise((resolve) => first.once('exit', resolve));
      first.kill('SIGTERM');
      await exited;
    }
  });
});
