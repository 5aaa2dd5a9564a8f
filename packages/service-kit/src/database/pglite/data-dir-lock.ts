import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/**
 * PGlite runs Postgres in single-user mode: two processes on one data directory corrupt it, and
 * the postmaster.pid it writes holds no real PID. This lock file, created with O_EXCL and holding
 * our real PID, makes a second process fail at once. A lock left by a dead process is taken over.
 */
export class DataDirLock {
  readonly #path: string;
  #held = false;

  private constructor(path: string) {
    this.#path = path;
  }

  static acquire(dataDir: string): DataDirLock {
    const lock = new DataDirLock(join(dataDir, 'fleet.lock'));
    lock.#take();
    return lock;
  }

  release(): void {
    if (!this.#held) return;
    this.#held = false;
    try {
      if (readOwner(this.#path) === process.pid) unlinkSync(this.#path);
    } catch {
      // Already gone: nothing to release.
    }
  }

  #take(): void {
    // Two tries: the second after removing a stale lock. If another process wins that race,
    // its lock is live and we fail like any second process would.
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(this.#path, 'wx', 0o600);
        writeSync(fd, `${process.pid}\n`);
        closeSync(fd);
        this.#held = true;
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const owner = readOwner(this.#path);
      if (owner !== undefined && owner !== process.pid && isAlive(owner)) {
        throw new Error(
          `The data directory ${this.#path.slice(0, -'/fleet.lock'.length)} is in use by process ${owner}. ` +
            'Stop that process, or give this one another data directory.',
        );
      }
      try {
        unlinkSync(this.#path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
    throw new Error(`Could not lock the data directory at ${this.#path}: another process holds it.`);
  }
}

function readOwner(path: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
