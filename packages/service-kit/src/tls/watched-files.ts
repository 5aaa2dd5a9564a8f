import { statSync } from 'node:fs';

export interface FileWatch {
  close(): void;
}

/**
 * Calls `onChange` when any of the files changes: each is looked at every `intervalMs` (its size,
 * modification time and inode, so a file replaced by a rename counts). Polling rather than
 * `fs.watch`, which loses a file replaced by a rename and misses changes on some file systems.
 */
export function watchFiles(paths: readonly string[], intervalMs: number, onChange: () => void): FileWatch {
  let last = signature(paths);
  const timer = setInterval(() => {
    const now = signature(paths);
    if (now === last) return;
    last = now;
    onChange();
  }, intervalMs);
  timer.unref();
  return { close: () => clearInterval(timer) };
}

function signature(paths: readonly string[]): string {
  return paths
    .map((path) => {
      try {
        const stat = statSync(path);
        return `${stat.ino}:${stat.size}:${stat.mtimeMs}`;
      } catch {
        return 'missing';
      }
    })
    .join('|');
}
