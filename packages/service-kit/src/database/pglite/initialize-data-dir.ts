import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Creates a new embedded database cluster (initdb) in a short-lived child process. PGlite's
 * WebAssembly memory never shrinks, and creating a cluster grows it to about 0.8 GB, which a
 * service would otherwise keep for its whole life; opening an existing cluster takes about a
 * third of that. A directory that holds a cluster already is left as it is.
 */
export async function initializeDataDir(pgdata: string): Promise<void> {
  if (existsSync(join(pgdata, 'PG_VERSION'))) return;
  const pglite = pathToFileURL(createRequire(import.meta.url).resolve('@electric-sql/pglite')).href;
  const script = [
    `const { PGlite } = await import(${JSON.stringify(pglite)});`,
    'const db = await PGlite.create(process.argv[1]);',
    'await db.close();',
  ].join('\n');
  await run(process.execPath, ['--input-type=module', '-e', script, pgdata], { timeout: 120_000 });
}
