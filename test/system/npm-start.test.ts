import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { curlGraphql } from '../support/curl.js';

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

  it("brings the federation up, shows the first administrator's code once and no secret, and stops on Ctrl-C", async () => {
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
      const gateway = { url, ca: join(dataDir, 'pki', 'ca.crt') };
      expect(url.startsWith('https://')).toBe(true);
      expect(output).toContain(`trust ${gateway.ca}`);
      const graphql = (query: string, variables: Record<string, unknown>, token?: string) =>
        curlGraphql(gateway, query, variables, token);
      // Anonymous callers reach only signing in.
      expect((await graphql('{ plans { id } }', {})).errors).toHaveLength(1);

      // The first administrator's one-time code is shown once, on the terminal.
      const code = /code: +(ac_[A-Za-z0-9_-]+)/.exec(output)?.[1];
      expect(code, output).toBeDefined();
      const email = /email: +(\S+)/.exec(output)?.[1];
      expect(email).toBe('admin@fleet.local');
      const password = 'Correct horse battery 42';
      const activated = await graphql('mutation($i: ActivateAccountInput!) { activateAccount(input: $i) }', {
        i: { tenant: 'platform', email, code, password },
      });
      expect(activated).toEqual({ data: { activateAccount: true } });
      const login = await graphql('mutation($i: LoginInput!) { login(input: $i) { accessToken } }', {
        i: { tenant: 'platform', email, password },
      });
      const token = (login.data?.login as { accessToken: string }).accessToken;
      expect(await graphql('{ plans { id } }', {}, token)).toEqual({
        data: { plans: [{ id: 'free' }, { id: 'pro' }, { id: 'enterprise' }] },
      });
      // The code appears in the notice only (its line and the example mutation), never in a log line.
      const lines = output.split('\n').filter((line) => line.includes(code!));
      expect(lines).toHaveLength(2);
      for (const line of lines) expect(line.startsWith('{')).toBe(false);

      const secretsPath = join(dataDir, 'secrets.json');
      expect(statSync(secretsPath).mode & 0o777).toBe(0o600);
      const secrets = Object.values(
        (await import(secretsPath, { with: { type: 'json' } })).default as object,
      ) as string[];
      expect(secrets).toHaveLength(11);
      for (const secret of secrets) {
        for (const part of secret.split(/[,:]/).filter((p) => p.length > 20))
          expect(output).not.toContain(part);
      }
      expect(statSync(join(dataDir, 'aaa', 'master.key')).mode & 0o777).toBe(0o600);
      expect((await readdir(dataDir)).sort()).toEqual([
        'aaa',
        'audit',
        'billing',
        'devices',
        'pki',
        'secrets.json',
      ]);
      // The internal authority and a certificate per service, keys readable by their owner only.
      const pki = join(dataDir, 'pki');
      expect(statSync(pki).mode & 0o777).toBe(0o700);
      expect((await readdir(pki)).sort()).toEqual(
        ['ca', 'edge', 'gateway', 'aaa', 'devices', 'billing', 'audit']
          .flatMap((name) => [`${name}.crt`, `${name}.key`])
          .sort(),
      );
      for (const name of await readdir(pki))
        if (name.endsWith('.key')) expect(statSync(join(pki, name)).mode & 0o777).toBe(0o600);
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited).toBe(0);
    expect(output).toContain('Stopped.');
  });
});
