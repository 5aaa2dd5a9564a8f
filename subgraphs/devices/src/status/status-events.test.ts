import { describe, expect, it } from 'vitest';
import { MemoryEventBus } from './event-bus/memory-event-bus.js';
import { eventStream } from './status-events.js';

describe('eventStream', () => {
  it('passes on the events selected, and keeps only the newest for a slow reader', async () => {
    const bus = new MemoryEventBus();
    const stream = eventStream<{ n: number }, number>(bus, 'c', ({ n }) => (n % 2 === 0 ? n : undefined), 3);
    for (let n = 0; n < 20; n++) bus.publish('c', JSON.stringify({ n }));
    const read = [];
    for (let i = 0; i < 3; i++) read.push((await stream.next()).value);
    expect(read).toEqual([14, 16, 18]);
    const waiting = stream.next();
    bus.publish('c', JSON.stringify({ n: 22 }));
    expect(await waiting).toEqual({ value: 22, done: false });
    await stream.return!();
  });

  it('ends a pending read when the subscriber leaves, and stays ended', async () => {
    const bus = new MemoryEventBus();
    const stream = eventStream<{ n: number }, number>(bus, 'c', ({ n }) => n, 10);
    const pending = stream.next();
    await stream.return!();
    expect(await pending).toEqual({ value: undefined, done: true });
    bus.publish('c', JSON.stringify({ n: 1 }));
    expect((await stream.next()).done).toBe(true);
  });
});
