import { startFederation } from './federation.js';

// npm start: the whole federation on embedded defaults, until Ctrl-C.
const dataDir = process.env.FLEET_DATA_DIR ?? '.data';
let stopping = false;

process.stdout.write(`Starting the federation (data in ${dataDir}) …\n`);
try {
  const federation = await startFederation({
    dataDir,
    output: 'inherit',
    onUnexpectedExit: (service, code) => {
      if (stopping) return;
      process.stderr.write(`\n${service} stopped unexpectedly (exit code ${code}); stopping everything.\n`);
      void shutdown(1);
    },
  });
  const shutdown = async (code: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    process.stdout.write('\nStopping …\n');
    await federation.stop();
    process.stdout.write('Stopped.\n');
    process.exit(code);
  };
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));
  process.stdout.write(`\nThe gateway is ready at ${federation.gatewayUrl}\nPress Ctrl-C to stop.\n\n`);
} catch (error) {
  process.stderr.write(`\nCould not start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
