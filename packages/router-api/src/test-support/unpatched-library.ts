import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

export interface UnpatchedOutcome {
  /** How the library's promise ended, or `pending` if it had not after the wait. */
  outcome: 'resolved' | 'rejected' | 'pending' | 'crashed';
  value?: unknown;
  stderr: string;
}

/**
 * Runs `body` against the library as published, in a process of its own where none of our fixes
 * are loaded: the evidence that each fix is needed. `body` is the inside of an async function
 * that receives `lib` (the routeros-client module) and `options` (host, port, user, password),
 * and returns a promise whose fate is reported. `await checkpoint()` in the body calls
 * `onCheckpoint` here (to inject a fault at that moment, say) before the body goes on.
 */
export function runUnpatched(
  body: string,
  options: Record<string, unknown>,
  waitMs = 3_000,
  onCheckpoint: () => void = () => {},
): Promise<UnpatchedOutcome> {
  const script = `
    import lib from 'routeros-client';
    const options = ${JSON.stringify(options)};
    const checkpoint = () => new Promise((resolve) => { process.stderr.write('@@checkpoint\\n'); process.stdin.once('data', resolve); });
    const report = (outcome, value) => { process.stdout.write(JSON.stringify({ outcome, value })); process.exit(0); };
    setTimeout(() => report('pending'), ${waitMs});
    const run = async () => { ${body} };
    run().then((value) => report('resolved', value), (error) => report('rejected', String(error?.message ?? error)));
  `;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (stderr.includes('@@checkpoint')) {
        stderr = stderr.replace('@@checkpoint\n', '');
        onCheckpoint();
        child.stdin.write('go\n');
      }
    });
    child.on('exit', (code) => {
      if (code !== 0 || stdout === '') {
        resolve({ outcome: 'crashed', stderr });
        return;
      }
      resolve({ ...(JSON.parse(stdout) as Omit<UnpatchedOutcome, 'stderr'>), stderr });
    });
  });
}
