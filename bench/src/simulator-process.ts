import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { InventoryEntry } from '@fleet/routeros-sim';

const SIM_CLI = fileURLToPath(new URL('../../packages/routeros-sim/dist/cli.js', import.meta.url));
/** As `npm run sim` runs it: a small young generation keeps V8 from reserving memory it barely uses. */
const SIM_NODE_FLAGS = ['--max-semi-space-size=1'];

export interface SimulatorProcess {
  pid: number;
  inventory: InventoryEntry[];
  stop(): Promise<void>;
}

/**
 * The RouterOS simulator in a process of its own, as `npm run sim` starts it, so that its CPU
 * and memory can be read apart from whatever it serves; answers once it printed its inventory.
 */
export async function startSimulatorProcess(routers: number): Promise<SimulatorProcess> {
  const child = spawn(process.execPath, [...SIM_NODE_FLAGS, SIM_CLI, '--count', String(routers)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  const inventory = await new Promise<InventoryEntry[]>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`simulator exited with ${code}`)));
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      try {
        resolve(JSON.parse(out) as InventoryEntry[]);
      } catch {
        // Not complete yet.
      }
    });
  });
  return {
    pid: child.pid!,
    inventory,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
