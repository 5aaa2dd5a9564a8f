import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseCliArgs } from './cli-args.js';
import type { InventoryEntry } from './index.js';
import { RawClient } from './testing/raw-client.js';

describe('command line', () => {
  it('has loopback, ephemeral ports, one 7.18 router by default', () => {
    expect(parseCliArgs([])).toEqual({
      count: 1,
      basePort: 0,
      version: '7.18',
      host: '127.0.0.1',
      interfaces: 5,
    });
  });

  it('reads every option, with a space or an equals sign', () => {
    expect(
      parseCliArgs([
        '--count',
        '20',
        '--base-port=30000',
        '--version',
        '6.42',
        '--host',
        '::1',
        '--interfaces',
        '3',
      ]),
    ).toEqual({ count: 20, basePort: 30000, version: '6.42', host: '::1', interfaces: 3 });
  });

  it('refuses what it cannot use', () => {
    expect(() => parseCliArgs(['--count', 'many'])).toThrow('--count takes a whole number');
    expect(() => parseCliArgs(['--count', '0'])).toThrow('--count');
    expect(() => parseCliArgs(['--version', '7.99'])).toThrow(
      '--version takes one of 6.42, 6.49, 7.16, 7.18',
    );
    expect(() => parseCliArgs(['--base-port', '65000', '--count', '1000'])).toThrow('no room');
    expect(() => parseCliArgs(['--verbose'])).toThrow('unknown option --verbose');
  });
});

// The process as `npm run sim` starts it: it runs the build (npm test builds first).
const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

describe('the simulator process', () => {
  it('prints the inventory, serves it, and exits 0 on SIGTERM and SIGINT', async () => {
    expect(existsSync(cli), 'build the package first (npm run build)').toBe(true);
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const child = spawn(process.execPath, [cli, '--count', '3', '--version', '6.49'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      const deadline = Date.now() + 15_000;
      while (!stdout.trimEnd().endsWith(']') && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const inventory = JSON.parse(stdout) as InventoryEntry[];
      expect(inventory).toHaveLength(3);
      expect(inventory[2]).toMatchObject({
        name: 'router-3',
        host: '127.0.0.1',
        username: 'admin',
        version: '6.49',
      });
      expect(inventory[0]!.fingerprint256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
      const client = await RawClient.connect(inventory[1]!.port);
      await client.login(inventory[1]!.username, inventory[1]!.password);
      const secure = await RawClient.connectTls(inventory[1]!.tlsPort, {
        checkServerIdentity: (_host, certificate) =>
          certificate.fingerprint256 === inventory[1]!.fingerprint256
            ? undefined
            : new Error('fingerprint mismatch'),
      });
      await secure.login();
      child.kill(signal);
      expect(await exited).toBe(0);
      await client.waitClosed();
      await secure.waitClosed();
    }
  });

  it('exits 2 with the usage on a bad option', async () => {
    const child = spawn(process.execPath, [cli, '--count', 'x'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) =>
      child.on('exit', (exitCode) => resolve(exitCode)),
    );
    expect(code).toBe(2);
    expect(stderr).toContain('--count takes a whole number');
    expect(stderr).toContain('Usage:');
  });
});
