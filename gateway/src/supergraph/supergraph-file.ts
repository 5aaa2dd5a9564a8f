import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { SupergraphSdlHook } from '@apollo/gateway';
import type { Logger } from '@fleet/service-kit';
import { enforceableSupergraph } from '../authorization/index.js';

const SETTLE_MS = 150;

/**
 * Serves the supergraph from a file, and hands the gateway every new version of it. The folder
 * is watched rather than the file, since editors and deploy tools replace files instead of
 * writing into them. A version that fails to load is logged and the running one is kept.
 * Each version passes through `enforceableSupergraph`: the gateway enforces its access rules.
 */
export function supergraphFromFile(path: string, logger: Logger): SupergraphSdlHook {
  return async ({ update }) => {
    let current = await readFile(path, 'utf8');
    const initial = enforceableSupergraph(current);
    let timer: NodeJS.Timeout | undefined;
    const reload = async (): Promise<void> => {
      let next: string;
      try {
        next = await readFile(path, 'utf8');
      } catch (error) {
        logger.warn({ err: error, path }, 'supergraph file unreadable; keeping the current supergraph');
        return;
      }
      if (next === current) return;
      try {
        update(enforceableSupergraph(next));
        current = next;
        logger.info({ path }, 'supergraph reloaded');
      } catch (error) {
        logger.error({ err: error, path }, 'new supergraph refused; keeping the current one');
      }
    };
    const watcher: FSWatcher = watch(dirname(path), (_event, file) => {
      if (file !== null && file !== basename(path)) return;
      clearTimeout(timer);
      timer = setTimeout(() => void reload(), SETTLE_MS);
    });
    watcher.on('error', (error) => logger.error({ err: error }, 'cannot watch the supergraph file'));
    return {
      supergraphSdl: initial,
      cleanup: () => {
        clearTimeout(timer);
        watcher.close();
        return Promise.resolve();
      },
    };
  };
}
