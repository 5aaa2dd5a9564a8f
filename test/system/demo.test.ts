import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { curlGraphql as graphql, run } from '../support/curl.js';
import { eventually } from '../support/test-federation.js';

const CLI = fileURLToPath(new URL('../../packages/launcher/dist/cli.js', import.meta.url));

interface Demo {
  child: ChildProcessWithoutNullStreams;
  output(): string;
  exited: Promise<number | null>;
  /** Resolves with the first match of `pattern` in the output so far or to come. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
}

/** What `npm start -- --demo` runs after building: the launcher with `--demo`. */
function startDemo(tmp: string, env: Record<string, string> = {}): Demo {
  const child = spawn(process.execPath, [CLI, '--demo'], {
    env: {
      PATH: process.env.PATH ?? '',
      TMPDIR: tmp,
      GATEWAY_PORT: '0',
      AAA_PORT: '0',
      DEVICES_PORT: '0',
      BILLING_PORT: '0',
      AUDIT_PORT: '0',
      ...env,
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  const listeners = new Set<() => void>();
  for (const stream of [child.stdout, child.stderr]) {
    stream.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      for (const listener of listeners) listener();
    });
  }
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const waitFor = (pattern: RegExp, timeoutMs = 150_000) =>
    new Promise<RegExpExecArray>((resolve, reject) => {
      const check = () => {
        const match = pattern.exec(output);
        if (!match) return;
        listeners.delete(check);
        clearTimeout(timer);
        resolve(match);
      };
      const timer = setTimeout(() => {
        listeners.delete(check);
        reject(new Error(`no ${pattern} in:\n${output}`));
      }, timeoutMs);
      listeners.add(check);
      check();
    });
  return { child, output: () => output, exited, waitFor };
}

/** The processes whose parent is `pid`, from /proc (Linux). */
function childrenOf(pid: number): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((name) => {
      try {
        const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid;
      } catch {
        return false; // Ended while listing.
      }
    })
    .map(Number);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

interface DemoDevice {
  id: string;
  name: string;
  site: string;
  tags: string[];
  routerOsVersion: string;
  tls: { mode: string; fingerprint: string };
}

/**
 * `npm start -- --demo` as a newcomer runs it: a simulated fleet enrolled into a demo tenant on
 * fresh temporary data, signed in to with the credentials it prints, gone without a trace on
 * Ctrl-C; and a demo that cannot be set up stops everything and says why.
 */
describe('npm start -- --demo', () => {
  let tmp: string;

  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'fleet-demo-test-'));
  });

  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it('enrolls a simulated fleet into a demo tenant, shows how to sign in once, and leaves nothing behind on Ctrl-C', async () => {
    const demo = startDemo(tmp);
    try {
      const dataDir = (await demo.waitFor(/data in (\S+),/))[1]!;
      expect(dataDir.startsWith(tmp)).toBe(true);
      await demo.waitFor(/The demo is ready/);
      const url = (await demo.waitFor(/gateway: +(\S+)/))[1]!;
      const gateway = { url, ca: (await demo.waitFor(/trust: +(\S+)/))[1]! };
      expect(url.startsWith('https://')).toBe(true);
      const tenant = (await demo.waitFor(/tenant: +(\S+) +\(id (\S+)\)/)).slice(1) as [string, string];
      const email = (await demo.waitFor(/email: +(\S+)/))[1]!;
      const password = (await demo.waitFor(/password: +(\S+)/))[1]!;
      const adminPassword = (await demo.waitFor(/administrator: .*password (\S+)/))[1]!;
      expect(tenant[0]).toBe('demo');

      // The printed demo login works over HTTPS, and its tenant holds the whole fleet.
      const login = await graphql<{ login: { accessToken: string } }>(
        gateway,
        'mutation($i: LoginInput!) { login(input: $i) { accessToken } }',
        { i: { tenant: tenant[0], email, password } },
      );
      expect(login.errors).toBeUndefined();
      const token = login.data!.login.accessToken;
      const listed = await graphql<{ devices: DemoDevice[] }>(
        gateway,
        'query($t: ID!) { devices(tenantId: $t) { id name site tags routerOsVersion tls { mode fingerprint } } }',
        { t: tenant[1] },
        token,
      );
      expect(listed.errors).toBeUndefined();
      const devices = listed.data!.devices;
      expect(devices).toHaveLength(20);
      expect(new Set(devices.map((device) => device.site))).toEqual(new Set(['ams', 'fra', 'lon']));
      expect(new Set(devices.map((device) => device.routerOsVersion.split('.')[0]))).toEqual(
        new Set(['6', '7']),
      );
      for (const device of devices) {
        expect(device.tls.mode).toBe('PINNED');
        expect(device.tls.fingerprint).toMatch(/^[0-9A-F]{2}(:[0-9A-F]{2}){31}$/);
        expect(device.tags).toContain(device.name.includes('core') ? 'core' : 'edge');
      }

      // Every device's job brings it to the baseline template, and the terminal says so.
      const jobs = await eventually(async () => {
        const all = await Promise.all(
          devices.map(async (device) => {
            const answer = await graphql<{ jobs: { status: string; summary: Record<string, unknown> }[] }>(
              gateway,
              'query($d: ID!) { jobs(deviceId: $d) { status summary } }',
              { d: device.id },
              token,
            );
            return answer.data!.jobs;
          }),
        );
        return all.every((list) => list.length === 1 && list[0]!.status === 'succeeded') ? all : undefined;
      }, 90_000);
      for (const [job] of jobs) expect(job!.summary).toHaveProperty(['/ip/firewall/filter'], { add: 3 });
      await demo.waitFor(
        /demo fleet: 20 devices \(\d+ online.* · jobs: 20 succeeded, 0 pending, 0 failed/,
        30_000,
      );

      // The fleet is live: polled, online (one router drops off now and then), with traffic.
      await eventually(async () => {
        const answer = await graphql<{ devices: { status: { state: string; cpuLoad: number | null } }[] }>(
          gateway,
          'query($t: ID!) { devices(tenantId: $t) { status { state cpuLoad } } }',
          { t: tenant[1] },
          token,
        );
        const online = answer.data!.devices.filter((device) => device.status.state === 'ONLINE');
        return online.length >= 19 && online.every((device) => device.status.cpuLoad !== null)
          ? true
          : undefined;
      }, 30_000);

      // The passwords appear on the notice only: the owner's in its line and the ready query.
      const lines = (secret: string) =>
        demo
          .output()
          .split('\n')
          .filter((line) => line.includes(secret));
      expect(lines(password)).toHaveLength(2);
      expect(lines(adminPassword)).toHaveLength(1);
      for (const line of [...lines(password), ...lines(adminPassword)])
        expect(line.startsWith('{')).toBe(false);

      // Every gateway the project starts keeps Apollo's telemetry off.
      const services = childrenOf(demo.child.pid!);
      expect(services).toHaveLength(5);
      const gatewayPid = services.find((pid) =>
        readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('gateway/dist/main.js'),
      );
      expect(readFileSync(`/proc/${gatewayPid}/environ`, 'utf8').split('\0')).toContain(
        'APOLLO_TELEMETRY_DISABLED=true',
      );

      demo.child.kill('SIGINT');
      expect(await demo.exited).toBe(0);
      expect(demo.output()).toContain(`Stopped; ${dataDir} removed.`);
      for (const pid of [demo.child.pid!, ...services]) expect(alive(pid)).toBe(false);
      // Nothing listens any more: curl cannot connect at all (its exit code 7).
      await expect(run('curl', ['--silent', '--insecure', url])).rejects.toMatchObject({ code: 7 });
      expect(await readdir(tmp)).toEqual([]);
    } finally {
      demo.child.kill('SIGKILL');
    }
  }, 240_000);

  it('stops everything with a clear message when the fleet cannot be enrolled', async () => {
    // The user's own configuration still applies: networks that leave the simulated routers out.
    const demo = startDemo(tmp, { DEVICES_ROUTER_NETWORKS: '10.0.0.0/8' });
    try {
      const services = await eventually(() => {
        const found = childrenOf(demo.child.pid!);
        return Promise.resolve(found.length === 5 ? found : undefined);
      }, 120_000);
      expect(await demo.exited).toBe(1);
      expect(demo.output()).toMatch(
        /The demo could not start: host is not in a network this service may reach routers in; stopping everything\./,
      );
      expect(demo.output()).not.toContain('The demo is ready');
      for (const pid of services) expect(alive(pid)).toBe(false);
      expect(await readdir(tmp)).toEqual([]);
    } finally {
      demo.child.kill('SIGKILL');
    }
  }, 240_000);
});
