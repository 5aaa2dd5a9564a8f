import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const CLI = fileURLToPath(new URL('../../packages/launcher/dist/cli.js', import.meta.url));

/** What `npm start` runs after building: the launcher, on embedded defaults. */
describe('npm start', () => {
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'fleet-start-'));
  });

  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('brings the federation up, prints the gateway URL and no secret, and stops on Ctrl-C', async () => {
    const child = spawn(process.execPath, [CLI], {
      env: {
        PATH: process.env.PATH ?? '',
        FLEET_DATA_DIR: dataDir,
        GATEWAY_PORT: '0',
        AAA_PORT: '0',
        DEVICES_PORT: '0',
        BILLING_PORT: '0',
        AUDIT_PORT: '0',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));

    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`not ready:\n${output}`)), 100_000);
      child.stdout.on('data', () => {
        const match = /The gateway is ready at (\S+)/.exec(output);
        if (match) {
          clearTimeout(timer);
          resolve(match[1]!);
        }
      });
    });
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ plans { id } }' }),
      });
      expect(await response.json()).toEqual({
        data: { plans: [{ id: 'free' }, { id: 'pro' }, { id: 'enterprise' }] },
      });

      const secretsPath = join(dataDir, 'secrets.json');
      expect(statSync(secretsPath).mode & 0o777).toBe(0o600);
      const secrets = Object.values(
        (await import(secretsPath, { with: { type: 'json' } })).default as object,
      );
      expect(secrets).toHaveLength(7);
      for (const secret of secrets) expect(output).not.toContain(secret);
      expect((await readdir(dataDir)).sort()).toEqual(['aaa', 'audit', 'billing', 'devices', 'secrets.json']);
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited).toBe(0);
    expect(output).toContain('Stopped.');
  });
});
