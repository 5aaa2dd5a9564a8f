import { rm } from 'node:fs/promises';

/**
 * Removes a test's scratch directory and everything in it. An embedded database's data
 * directory holds thousands of files; on a loaded machine, or on an overlay filesystem, a
 * recursive removal can meet a directory it has just emptied still listed as not empty, so
 * the removal tries again a few times before it fails.
 */
export function removeScratchDirectory(dir: string): Promise<void> {
  return rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
}
