import { randomBytes } from 'node:crypto';
import { chmodSync, renameSync, rmSync, writeFileSync } from 'node:fs';

/**
 * Replaces a file by a rename, never rewriting it in place: a reader sees the old contents or
 * the new, never half of either, and the new file has `mode` from the start.
 */
export function replaceFile(path: string, contents: string, mode: number): void {
  const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    writeFileSync(temporary, contents, { mode, flush: true });
    chmodSync(temporary, mode);
    renameSync(temporary, path);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw new Error(`Cannot write ${path}: ${(error as Error).message}`);
  }
}
