import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimulator, type Simulator } from '@fleet/routeros-sim';
import { SUBGRAPH_NAMES, startFederation, type Federation } from '../federation.js';
import { trustGatewayCertificate } from '../gateway-trust.js';
import { DEMO_ROUTERS } from './demo-fleet.js';
import { enrollDemo, type EnrolledDemo } from './enroll-demo.js';
import { FleetSummary } from './fleet-summary.js';

/** How often the terminal gets a line about the fleet. */
const SUMMARY_EVERY_MS = 10_000;

/** The demo's routers are polled this often, unless the user set DEVICES_STATUS_INTERVAL_MS. */
const DEMO_STATUS_INTERVAL_MS = '2000';

/** One router drops off the network for a while, over and over, so the fleet is seen to live. */
const FLAP_EVERY_MS = 90_000;
const FLAP_FOR_MS = 30_000;

/**
 * `npm start -- --demo`: the federation on a fresh temporary data directory (removed when the
 * demo stops), a simulated fleet beside it on loopback, enrolled into a demo tenant through the
 * gateway, and a line about the fleet every few seconds until Ctrl-C. The simulator makes new
 * certificates and ports at each start, so the demo never shares the normal data directory, nor
 * a configured database: every service runs on its embedded one.
 */
export async function runDemo(): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'fleet-demo-'));
  const out = (text: string) => process.stdout.write(`${text}\n`);
  let simulator: Simulator | undefined;
  let federation: Federation | undefined;
  let timer: NodeJS.Timeout | undefined;
  let flapping: NodeJS.Timeout | undefined;
  let stopping = false;

  out(`Starting the demo: ${DEMO_ROUTERS.length} simulated routers and the federation`);
  out(`(data in ${dataDir}, a fresh directory removed when the demo stops) …`);
  const starting = (async () => {
    simulator = await startSimulator({ routers: DEMO_ROUTERS.map((router) => router.spec) });
    federation = await startFederation({
      dataDir,
      env: demoEnvironment(process.env),
      output: 'inherit',
      onUnexpectedExit: (service, code) => {
        if (stopping) return;
        process.stderr.write(`\n${service} stopped unexpectedly (exit code ${code}); stopping everything.\n`);
        void shutdown(1);
      },
    });
  })();

  const shutdown = async (code: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    clearInterval(timer);
    clearInterval(flapping);
    out('\nStopping the demo …');
    await starting.catch(() => undefined);
    await federation?.stop();
    await simulator?.close();
    await rm(dataDir, { recursive: true, force: true });
    out(`Stopped; ${dataDir} removed.`);
    process.exit(code);
  };
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));

  try {
    await starting;
    if (stopping || !federation || !simulator) return;
    const admin = federation.initialAdmin;
    if (!admin) throw new Error('the new federation created no first administrator');
    const inventory = simulator.inventory();
    const fleet = DEMO_ROUTERS.map((router, index) => ({ router, entry: inventory[index]! }));
    trustGatewayCertificate(federation.caFile);
    out(`\nThe gateway answers at ${federation.gatewayUrl}; setting the demo up through it …`);
    const demo = await enrollDemo(federation.gatewayUrl, admin, fleet, out);
    if (stopping) return;
    out(readyNotice(federation.gatewayUrl, federation.caFile, demo));

    const summary = new FleetSummary(demo.session, demo.tenantId, demo.jobIds);
    let reported = false;
    const report = async (): Promise<void> => {
      try {
        out(await summary.line());
        if (summary.settled && !reported) {
          reported = true;
          out('Every job has finished: see their results with `jobs(deviceId: …)` or `job(id: …)`.');
        }
      } catch (error) {
        if (!stopping) out(`(fleet summary unavailable: ${(error as Error).message})`);
      }
    };
    await report();
    timer = setInterval(() => void report(), SUMMARY_EVERY_MS);
    const flapper = simulator.routers.at(-1)!;
    flapping = setInterval(() => {
      out(
        `(demo: ${flapper.name} drops off the network for ${FLAP_FOR_MS / 1000} s, to show offline detection)`,
      );
      flapper.setOffline(true);
      setTimeout(() => flapper.setOffline(false), FLAP_FOR_MS).unref();
    }, FLAP_EVERY_MS);
  } catch (error) {
    if (stopping) return;
    process.stderr.write(
      `\nThe demo could not start: ${error instanceof Error ? error.message : String(error)}; stopping everything.\n`,
    );
    await shutdown(1);
  }
}

/**
 * The user's configuration without what points at stored data (the demo's is fresh and
 * temporary), and services that log warnings only unless the user asks for more, so the
 * demo's own lines stay readable.
 */
function demoEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const quiet = Object.fromEntries(
    (['gateway', ...SUBGRAPH_NAMES] as const).map((service) => [
      `${service.toUpperCase()}_LOG_LEVEL`,
      'warn',
    ]),
  );
  const kept = Object.entries(env).filter(([name]) => !/_(DATABASE_URL|DATA_DIR)$/.test(name));
  return { ...quiet, DEVICES_STATUS_INTERVAL_MS: DEMO_STATUS_INTERVAL_MS, ...Object.fromEntries(kept) };
}

/** Shown once, on the terminal only: where to look and how to sign in. */
function readyNotice(url: string, caFile: string, demo: EnrolledDemo): string {
  const { owner, admin } = demo;
  const login =
    `{"query":"mutation { login(input: {tenant: \\"${owner.tenant}\\", email: \\"${owner.email}\\", ` +
    `password: \\"${owner.password}\\"}) { accessToken } }"}`;
  const devices =
    `{"query":"{ devices(tenantId: \\"${demo.tenantId}\\") ` +
    '{ name site tags routerOsVersion status { state cpuLoad uptimeSeconds } } }"}';
  return [
    '',
    `The demo is ready: ${demo.deviceIds.length} routers enrolled in tenant "${owner.tenant}".`,
    `  gateway:  ${url}`,
    `  trust:    ${caFile}   (the authority of the gateway's certificate)`,
    `  tenant:   ${owner.tenant}   (id ${demo.tenantId})`,
    `  email:    ${owner.email}`,
    `  password: ${owner.password}`,
    `The platform administrator: tenant ${admin.tenant}, email ${admin.email}, password ${admin.password}`,
    'These passwords are shown only now; the demo forgets everything when it stops.',
    '',
    "List the demo tenant's devices with their live status:",
    `  TOKEN=$(curl -s --cacert ${caFile} ${url} -H 'content-type: application/json' -d '${login}' | sed -E 's/.*"accessToken":"([^"]+)".*/\\1/')`,
    `  curl -s --cacert ${caFile} ${url} -H 'content-type: application/json' -H "authorization: Bearer $TOKEN" -d '${devices}'`,
    '',
    `A line every ${SUMMARY_EVERY_MS / 1000} s sums the fleet up. Press Ctrl-C to stop everything, the simulator included.`,
    '',
  ].join('\n');
}
