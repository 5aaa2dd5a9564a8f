import { describe, expect, it } from 'vitest';
import { foldEntityState, isRemoval, type StateChange } from './entity-state.js';

const change = (sequence: number, type: string, payload: Record<string, unknown>): StateChange => ({
  sequence,
  type,
  payload,
});

describe('foldEntityState', () => {
  it('is null without events', () => {
    expect(foldEntityState([])).toBeNull();
  });

  it('takes the last whole snapshot, and merges partial ones over the state before them', () => {
    const created = change(1, 'device.created', { name: 'gw', port: 8729, tags: ['a'] });
    const renamed = change(2, 'device.updated', { name: 'gw-ams', port: 8729, tags: ['a'] });
    const tagged = change(3, 'device.tags-changed', { tags: ['a', 'b'] });
    expect(foldEntityState([created, renamed, tagged])).toEqual({
      exists: true,
      state: { name: 'gw-ams', port: 8729, tags: ['a', 'b'] },
      sequence: 3,
      event: tagged,
    });
  });

  it('folds in sequence order, whatever order the events are given in', () => {
    const events = [
      change(3, 'device.updated', { name: 'third' }),
      change(1, 'device.created', { name: 'first', site: 'ams' }),
      change(2, 'device.updated', { name: 'second', port: 1 }),
    ];
    expect(foldEntityState(events)).toMatchObject({
      state: { name: 'third', site: 'ams', port: 1 },
      sequence: 3,
    });
  });

  it('keeps the last known state of a removed entity, and starts afresh when it comes back', () => {
    const events = [
      change(1, 'device.created', { name: 'gw', site: 'ams' }),
      change(2, 'device.removed', { removedBy: 'x' }),
    ];
    expect(foldEntityState(events)).toMatchObject({
      exists: false,
      state: { name: 'gw', site: 'ams', removedBy: 'x' },
      sequence: 2,
    });
    const back = foldEntityState([...events, change(3, 'device.restored', { name: 'gw2' })]);
    expect(back).toMatchObject({ exists: true, state: { name: 'gw2' }, sequence: 3 });
    const deletedTwice = foldEntityState([...events, change(3, 'device.deleted', {})]);
    expect(deletedTwice).toMatchObject({ exists: false, state: { name: 'gw', site: 'ams', removedBy: 'x' } });
  });

  it('continues a fold from where another one stopped, as over pages', () => {
    const events = [
      change(1, 'user.created', { email: 'sealed', role: 'viewer' }),
      change(2, 'user.updated', { role: 'admin' }),
      change(3, 'user.deleted', {}),
      change(4, 'user.created', { role: 'owner' }),
    ];
    const whole = foldEntityState(events);
    expect(foldEntityState(events.slice(2), foldEntityState(events.slice(0, 2)))).toEqual(whole);
    expect(whole).toMatchObject({ exists: true, state: { role: 'owner' } });
  });

  it('leaves the events it folds unchanged', () => {
    const events = [change(2, 'a.updated', { x: 2 }), change(1, 'a.created', { x: 1, y: 1 })];
    const copy = structuredClone(events);
    foldEntityState(events);
    expect(events).toEqual(copy);
  });
});

describe('isRemoval', () => {
  it('holds for types ending in .removed or .deleted only', () => {
    expect(isRemoval('device.removed')).toBe(true);
    expect(isRemoval('api_key.deleted')).toBe(true);
    expect(isRemoval('device.removed-tag')).toBe(false);
    expect(isRemoval('removed')).toBe(false);
    expect(isRemoval('device.undeleted')).toBe(false);
  });
});
