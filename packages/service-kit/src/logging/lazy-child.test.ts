import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { lazyChild } from './lazy-child.js';

describe('a lazy child logger', () => {
  it('logs with its bindings, and makes the child only once it logs', () => {
    const lines: Record<string, unknown>[] = [];
    const parent = pino(
      {},
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
          done();
        },
      }),
    );
    let children = 0;
    const child = parent.child.bind(parent);
    parent.child = ((...args: Parameters<typeof child>) => {
      children++;
      return child(...args);
    }) as typeof parent.child;
    const logger = lazyChild(parent, { userId: 'u1' });
    expect(children).toBe(0);
    // Below the parent's level (info): nothing is written and no child is made for it.
    logger.debug({ n: 0 }, 'dropped');
    expect(children).toBe(0);
    logger.info({ n: 1 }, 'first');
    logger.warn('second');
    expect(children).toBe(1);
    expect(lines.map(({ userId, msg, n }) => ({ userId, msg, n }))).toEqual([
      { userId: 'u1', msg: 'first', n: 1 },
      { userId: 'u1', msg: 'second', n: undefined },
    ]);
  });
});
