import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DataDirLock } from './data-dir-lock.js';

function deadPid(): number {
  // A process that has exited: its PID is free (and not reused this quickly).
  return spawnSync(process.execPath, ['-e', '']).pid;
}

describe('data directory lock', () => {
  it('holds the real PID and is released on release()', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lock-'));
    const lock = DataDirLock.acquire(dir);
    expect(readFileSync(join(dir, 'fleet.lock'), 'utf8').trim()).toBe(String(process.pid));
    lock.release();
    expect(existsSync(join(dir, 'fleet.lock'))).toBe(false);
  });

  it('refuses a directory held by a live process', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lock-'));
    // PID 1 is always alive.
    writeFileSync(join(dir, 'fleet.lock'), '1\n');
    expect(() => DataDirLock.acquire(dir)).toThrow(/is in use by process 1\b/);
    expect(readFileSync(join(dir, 'fleet.lock'), 'utf8').trim()).toBe('1');
  });

  it('takes over a lock left by a dead process', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lock-'));
    writeFileSync(join(dir, 'fleet.lock'), `${deadPid()}\n`);
    const lock = DataDirLock.acquire(dir);
    expect(readFileSync(join(dir, 'fleet.lock'), 'utf8').trim()).toBe(String(process.pid));
    lock.release();
  });

  it('takes over an unreadable lock file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lock-'));
    writeFileSync(join(dir, 'fleet.lock'), 'garbage');
    DataDirLock.acquire(dir).release();
  });
});
