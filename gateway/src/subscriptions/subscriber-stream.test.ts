import { describe, expect, it } from 'vitest';
import { SubscriberStream } from './subscriber-stream.js';

const event = (n: number) => ({ data: { n } });

describe('a subscriber stream', () => {
  it('hands events to a waiting reader at once, in order', async () => {
    const stream = new SubscriberStream(4, () => undefined);
    const first = stream.next();
    stream.push(event(1));
    stream.push(event(2));
    expect(await first).toEqual({ value: event(1), done: false });
    expect(await stream.next()).toEqual({ value: event(2), done: false });
  });

  it('keeps at most its capacity for a slow reader, dropping the oldest', async () => {
    const stream = new SubscriberStream(3, () => undefined);
    for (let n = 1; n <= 10; n++) stream.push(event(n));
    expect(stream.dropped).toBe(7);
    const read = [];
    for (let n = 0; n < 3; n++) read.push((await stream.next()).value);
    expect(read).toEqual([event(8), event(9), event(10)]);
  });

  it('ends after what is queued, with a last event that is never dropped', async () => {
    let closed = 0;
    const stream = new SubscriberStream(2, () => closed++);
    stream.push(event(1));
    stream.push(event(2));
    stream.end({ errors: [{ message: 'gone' }] });
    expect(closed).toBe(1);
    const read = [];
    for await (const result of stream) read.push(result);
    expect(read).toEqual([event(2), { errors: [{ message: 'gone' }] }]);
    stream.push(event(3));
    expect(await stream.next()).toEqual({ value: undefined, done: true });
  });

  it('closes once when the reader leaves, releasing a waiting read and dropping what is queued', async () => {
    let closed = 0;
    const stream = new SubscriberStream(2, () => closed++);
    const waiting = stream.next();
    await stream.return();
    await stream.return();
    expect(await waiting).toEqual({ value: undefined, done: true });
    stream.push(event(1));
    expect(await stream.next()).toEqual({ value: undefined, done: true });
    expect(closed).toBe(1);
  });
});
