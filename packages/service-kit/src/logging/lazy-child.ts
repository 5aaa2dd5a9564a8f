import type { Logger } from './logger.js';

/**
 * A child logger made only when it is first used. A pino child serializes its bindings at once
 * (about a kilobyte each): for something held by the thousand, such as a subscriber's logger
 * that may never log, that is the larger part of what it costs.
 */
export function lazyChild(parent: Logger, bindings: Record<string, string>): Logger {
  let child: Logger | undefined;
  return new Proxy({} as Logger, {
    get(_target, property) {
      // A line below the level would be dropped: it makes no child.
      if (!child && typeof property === 'string' && property in parent.levels.values) {
        if (!parent.isLevelEnabled(property)) return doNothing;
      }
      child ??= parent.child(bindings);
      const value: unknown = Reflect.get(child, property, child);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(child) : value;
    },
  });
}

function doNothing(): void {}
