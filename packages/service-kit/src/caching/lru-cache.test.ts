import { describe, expect, it } from 'vitest';
import { LruCache } from './lru-cache.js';

describe('an LRU cache', () => {
  it('forgets the least recently used entry when full', () => {
    const cache = new LruCache<string, number>(2);
    cache.set('a', 1);
    cache.set('b', 2);
    expect(cache.get('a')).toBe(1);
    cache.set('c', 3);
    expect([cache.get('a'), cache.get('b'), cache.get('c')]).toEqual([1, undefined, 3]);
    expect(cache.size).toBe(2);
  });

  it('makes a missing value once and keeps it', () => {
    const cache = new LruCache<string, object>(4);
    let made = 0;
    const make = () => ({ n: ++made });
    const first = cache.getOrSet('k', make);
    expect(cache.getOrSet('k', make)).toBe(first);
    expect(made).toBe(1);
  });

  it('refuses a capacity of nothing', () => {
    expect(() => new LruCache(0)).toThrow(RangeError);
  });
});
