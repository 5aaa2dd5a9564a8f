import { RouterClient } from '@fleet/router-api';
import { processUsage } from './process-usage.js';
import { startSimulatorProcess } from './simulator-process.js';
import { commandLineOptions } from './command-line.js';

/**
 * One simulator process with N routers (1,000 by default), and this process polling
 * /system/resource on every router once a second for a while. Reports the polling rate achieved,
 * the CPU each side used, and the simulator's memory per router. Loopback only; bounded in time.
 *
 *   npm run bench:routeros -- [--routers 1000] [--seconds 30]
 */

const args = commandLineOptions();
const ROUTERS = Number(args.get('routers') ?? 1000);
const SECONDS = Number(args.get('seconds') ?? 30);
const WARMUP_SECONDS = 3;
const sim = await startSimulatorProcess(ROUTERS);
const idleSim = processUsage(sim.pid);
const clients = sim.inventory.map(
  (entry) =>
    new RouterClient(
      {
        name: entry.name,
        host: entry.host,
        port: entry.port,
        username: entry.username,
        password: entry.password,
      },
      { callTimeoutMs: 5_000, connectTimeoutMs: 10_000 },
    ),
);

let ok = 0;
let failed = 0;
let measuring = false;
const pollAll = async (): Promise<void> => {
  await Promise.all(
    clients.map((client) =>
      client.print('/system/resource', { proplist: ['cpu-load', 'free-memory', 'uptime'] }).then(
        () => measuring && ok++,
        () => measuring && failed++,
      ),
    ),
  );
};

// Connect and log in everywhere first; steady polling is what is measured.
await pollAll();
const ticks: Promise<void>[] = [];
const timer = setInterval(() => ticks.push(pollAll()), 1_000);
await new Promise((resolve) => setTimeout(resolve, WARMUP_SECONDS * 1_000));
measuring = true;
const start = { time: performance.now(), client: process.cpuUsage(), sim: processUsage(sim.pid) };
await new Promise((resolve) => setTimeout(resolve, SECONDS * 1_000));
measuring = false;
const elapsed = (performance.now() - start.time) / 1_000;
const clientCpu = process.cpuUsage(start.client);
const simEnd = processUsage(sim.pid);
clearInterval(timer);
await Promise.all(ticks);
await Promise.all(clients.map((client) => client.close()));
await sim.stop();

const clientCores = (clientCpu.user + clientCpu.system) / 1e6 / elapsed;
const simCores = (simEnd.cpuSeconds - start.sim.cpuSeconds) / elapsed;
const result = {
  routers: ROUTERS,
  seconds: Math.round(elapsed),
  polls_per_second: Math.round(ok / elapsed),
  failed_polls: failed,
  client_cores: Number(clientCores.toFixed(3)),
  simulator_cores: Number(simCores.toFixed(3)),
  total_cores: Number((clientCores + simCores).toFixed(3)),
  simulator_rss_mb: Number((simEnd.rssBytes / 2 ** 20).toFixed(1)),
  simulator_rss_idle_mb: Number((idleSim.rssBytes / 2 ** 20).toFixed(1)),
  simulator_kb_per_router: Math.round(simEnd.rssBytes / 1024 / ROUTERS),
  client_rss_mb: Number((process.memoryUsage().rss / 2 ** 20).toFixed(1)),
};
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
