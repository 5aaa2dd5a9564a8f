import { describe, expect, it } from 'vitest';
import { diffStates } from './entity-diff.js';

const device = {
  name: 'gw-ams',
  port: 8729,
  site: 'ams',
  tags: ['edge', 'core'],
  tls: { mode: 'pinned', fingerprint: 'aa:bb' },
  identity: null,
};

describe('diffStates', () => {
  it('finds nothing between two equal states, whatever their key order', () => {
    const reordered = {
      tls: { fingerprint: 'aa:bb', mode: 'pinned' },
      identity: null,
      tags: ['edge', 'core'],
      site: 'ams',
      port: 8729,
      name: 'gw-ams',
    };
    expect(diffStates(device, reordered)).toEqual([]);
  });

  it('names each changed field with its dotted path, in key order, with both values', () => {
    const after = {
      ...device,
      port: 8728,
      name: 'gw-rtm',
      tls: { mode: 'anonymous-dh', fingerprint: 'aa:bb' },
    };
    expect(diffStates(device, after)).toEqual([
      { path: 'name', before: 'gw-ams', after: 'gw-rtm' },
      { path: 'port', before: 8729, after: 8728 },
      { path: 'tls.mode', before: 'pinned', after: 'anonymous-dh' },
    ]);
  });

  it('compares arrays as whole values: a reorder or one more entry is one change', () => {
    expect(diffStates(device, { ...device, tags: ['core', 'edge'] })).toEqual([
      { path: 'tags', before: ['edge', 'core'], after: ['core', 'edge'] },
    ]);
    expect(diffStates(device, { ...device, tags: ['edge', 'core', 'lab'] })).toEqual([
      { path: 'tags', before: ['edge', 'core'], after: ['edge', 'core', 'lab'] },
    ]);
    const objects = { list: [{ a: 1, b: 2 }] };
    expect(diffStates(objects, { list: [{ b: 2, a: 1 }] })).toEqual([]);
  });

  it('shows an added or a removed field as null on the side that lacks it', () => {
    const { site: _site, ...withoutSite } = device;
    expect(diffStates(device, { ...withoutSite, board: 'RB5009' })).toEqual([
      { path: 'board', before: null, after: 'RB5009' },
      { path: 'site', before: 'ams', after: null },
    ]);
    expect(diffStates({}, { tls: { mode: 'pinned' } })).toEqual([
      { path: 'tls', before: null, after: { mode: 'pinned' } },
    ]);
  });

  it('treats a field that is null on one side and absent on the other as unchanged', () => {
    const { identity: _identity, ...withoutIdentity } = device;
    expect(diffStates(device, withoutIdentity)).toEqual([]);
  });

  it('goes down any depth of objects, and replaces a value that changes kind whole', () => {
    const before = { a: { b: { c: 1, d: [1] }, e: 'x' } };
    expect(diffStates(before, { a: { b: { c: 2, d: [1] }, e: 'x' } })).toEqual([
      { path: 'a.b.c', before: 1, after: 2 },
    ]);
    expect(diffStates(before, { a: { b: 'flat', e: 'x' } })).toEqual([
      { path: 'a.b', before: { c: 1, d: [1] }, after: 'flat' },
    ]);
    expect(diffStates(before, { a: { b: [{ c: 1 }], e: 'x' } })).toEqual([
      { path: 'a.b', before: { c: 1, d: [1] }, after: [{ c: 1 }] },
    ]);
  });

  it('tells a number from the string of it, and false from null', () => {
    expect(diffStates({ port: 8729, on: false }, { port: '8729', on: null })).toEqual([
      { path: 'on', before: false, after: null },
      { path: 'port', before: 8729, after: '8729' },
    ]);
  });
});
