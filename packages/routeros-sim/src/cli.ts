import { parseCliArgs, USAGE } from './cli-args.js';
import { startSimulator } from './simulator.js';

// The simulator as a process: N routers, their inventory as JSON on stdout, until SIGINT/SIGTERM.
const argv = process.argv.slice(2);
if (argv.includes('--help') || argv.includes('-h')) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}

try {
  const options = parseCliArgs(argv);
  const simulator = await startSimulator({
    host: options.host,
    basePort: options.basePort,
    routers: Array.from({ length: options.count }, () => ({
      version: options.version,
      interfaces: options.interfaces,
    })),
  });
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    void simulator.close().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.stdout.write(`${JSON.stringify(simulator.inventory(), null, 2)}\n`);
  const megabytes = (process.memoryUsage().rss / 1024 / 1024).toFixed(1);
  process.stderr.write(
    `${options.count} simulated router(s) listening on ${options.host} (resident memory ${megabytes} MB); Ctrl-C stops them.\n`,
  );
} catch (error) {
  process.stderr.write(
    `routeros-sim: ${error instanceof Error ? error.message : String(error)}\n\n${USAGE}\n`,
  );
  process.exit(2);
}
