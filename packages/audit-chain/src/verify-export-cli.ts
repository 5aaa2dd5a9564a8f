#!/usr/bin/env node
import { readFileSync, createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { KeyObject } from 'node:crypto';
import { parsePublicKey } from './checkpoint.js';
import { ExportVerifier } from './verify-export.js';

const USAGE = 'usage: fleet-audit-verify --public-key <file> [--public-key <file>...] <export.ndjson | ->';

/**
 * Verifies an audit export offline, with nothing but audit's published public key(s): exit 0
 * when every link and checkpoint holds, 1 naming the first that does not, 2 on bad usage.
 */
async function main(argv: readonly string[]): Promise<number> {
  const keys: KeyObject[] = [];
  let file: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--public-key') {
      const path = argv[++i];
      if (!path) return usage('--public-key needs a file');
      try {
        keys.push(parsePublicKey(readFileSync(path, 'utf8')));
      } catch (error) {
        return usage(`cannot read the public key ${path}: ${(error as Error).message}`);
      }
    } else if (arg === '--help' || arg === '-h') {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    } else if (file === undefined) {
      file = arg;
    } else {
      return usage(`unexpected argument ${arg}`);
    }
  }
  if (keys.length === 0) return usage('give at least one --public-key');
  if (file === undefined) return usage('give the export file, or - for standard input');

  const verifier = new ExportVerifier(keys);
  const input = file === '-' ? process.stdin : createReadStream(file, { encoding: 'utf8' });
  try {
    for await (const line of createInterface({ input, crlfDelay: Infinity })) verifier.accept(line);
  } catch (error) {
    return usage(`cannot read ${file}: ${(error as Error).message}`);
  }
  const result = verifier.finish();
  if (result.ok) {
    process.stdout.write(
      `OK: positions ${result.fromPosition}-${result.toPosition}` +
        `${result.tenantId ? ` of tenant ${result.tenantId}` : ''}: ${result.events} events, ` +
        `${result.linksOnly} links without their event, ${result.checkpoints} checkpoints ` +
        `signed by ${result.keyIds.join(', ')}\n`,
    );
    return 0;
  }
  const where = result.position === null ? '' : ` (position ${result.position})`;
  process.stdout.write(`BROKEN at line ${result.line}${where}: ${result.reason}\n`);
  return 1;
}

function usage(problem: string): number {
  process.stderr.write(`fleet-audit-verify: ${problem}\n${USAGE}\n`);
  return 2;
}

process.exitCode = await main(process.argv.slice(2));
