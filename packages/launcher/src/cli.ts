import type { InitialAdmin } from '@fleet/aaa';
import { runDemo } from './demo/demo.js';
import { startFederation } from './federation.js';

// npm start: the whole federation on embedded defaults, until Ctrl-C.
// npm start -- --demo: the same on fresh temporary data, with a simulated fleet enrolled.
const options = process.argv.slice(2);
const unknown = options.filter((option) => option !== '--demo');
if (unknown.length > 0) {
  process.stderr.write(`Unknown option ${unknown.join(' ')}; the only one is --demo.\n`);
  process.exit(2);
}
if (options.includes('--demo')) await runDemo();
else await start();

async function start(): Promise<void> {
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
    // One write: whoever reads the ready line reads where the authority is with it.
    const trust = federation.gatewayUrl.startsWith('https:')
      ? `Its certificate is signed by the federation's own authority: trust ${federation.caFile} (curl --cacert ${federation.caFile} …).\n`
      : '';
    process.stdout.write(`\nThe gateway is ready at ${federation.gatewayUrl}\n${trust}`);
    if (federation.initialAdmin) process.stdout.write(initialAdminNotice(federation.initialAdmin));
    process.stdout.write('Press Ctrl-C to stop.\n\n');
  } catch (error) {
    process.stderr.write(`\nCould not start: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
}

/** Shown once, on the terminal only: the code that activates the first platform administrator. */
function initialAdminNotice(admin: InitialAdmin): string {
  const mutation =
    `mutation { activateAccount(input: { tenant: "${admin.tenant}", email: "${admin.email}", ` +
    `code: "${admin.activationCode}", password: "<at least 12 characters>" }) }`;
  return [
    '',
    'The first platform administrator was created. Activate it once, choosing its password:',
    `  tenant: ${admin.tenant}`,
    `  email:  ${admin.email}`,
    `  code:   ${admin.activationCode}   (one-time, valid until ${admin.activationExpiresAt})`,
    '',
    `  ${mutation}`,
    '',
    'This code is shown only now; a restart before activation issues a new one.',
    '',
    '',
  ].join('\n');
}
