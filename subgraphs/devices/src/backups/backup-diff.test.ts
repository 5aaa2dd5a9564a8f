import { describe, expect, it } from 'vitest';
import { diffSnapshots } from './backup-diff.js';
import type { SnapshotContent } from './snapshot.js';

const rule = (comment: string, more: Record<string, string> = {}) => ({
  action: 'accept',
  chain: 'input',
  comment,
  ...more,
});

function snapshot(parts: {
  identity?: string;
  addresses?: Record<string, string>[];
  filter?: Record<string, string>[];
}): SnapshotContent {
  return {
    menus: [
      { path: '/system/identity', items: [{ name: parts.identity ?? 'gw' }] },
      { path: '/ip/address', items: parts.addresses ?? [] },
      { path: '/ip/firewall/filter', items: parts.filter ?? [] },
    ],
  };
}

describe('diffSnapshots', () => {
  it('finds nothing between two snapshots of one content', () => {
    const content = snapshot({
      addresses: [{ address: '10.0.0.1/24', interface: 'ether2' }],
      filter: [rule('a'), rule('b')],
    });
    expect(diffSnapshots(content, structuredClone(content))).toEqual([]);
  });

  it('matches keyed items by key: added, removed and changed with the properties before and after', () => {
    const before = snapshot({
      identity: 'gw-ams',
      addresses: [
        { address: '10.0.0.1/24', interface: 'ether2', comment: 'lan' },
        { address: '10.9.0.1/24', interface: 'ether3' },
      ],
    });
    const after = snapshot({
      identity: 'gw-rtm',
      addresses: [
        { address: '10.0.0.1/24', interface: 'ether2', disabled: 'true' },
        { address: '10.7.0.1/24', interface: 'ether4' },
      ],
    });
    expect(diffSnapshots(before, after)).toEqual([
      {
        path: '/system/identity',
        added: [],
        removed: [],
        changed: [{ item: {}, before: { name: 'gw-ams' }, after: { name: 'gw-rtm' } }],
        moved: [],
      },
      {
        path: '/ip/address',
        added: [{ address: '10.7.0.1/24', interface: 'ether4' }],
        removed: [{ address: '10.9.0.1/24', interface: 'ether3' }],
        changed: [
          {
            item: { address: '10.0.0.1/24', interface: 'ether2' },
            before: { comment: 'lan', disabled: null },
            after: { comment: null, disabled: 'true' },
          },
        ],
        moved: [],
      },
    ]);
  });

  it('reports a rule moved in an ordered menu as a move, not as a removal and an addition', () => {
    const before = snapshot({ filter: [rule('a'), rule('b'), rule('c'), rule('d')] });
    const after = snapshot({ filter: [rule('b'), rule('c'), rule('a'), rule('d')] });
    expect(diffSnapshots(before, after)).toEqual([
      {
        path: '/ip/firewall/filter',
        added: [],
        removed: [],
        changed: [],
        moved: [{ item: rule('a'), from: 0, to: 2 }],
      },
    ]);
  });

  it('tells a changed rule by its comment, and rules without a match as added or removed', () => {
    const before = snapshot({ filter: [rule('ssh', { 'dst-port': '22' }), rule('old'), rule('keep')] });
    const after = snapshot({
      filter: [rule('ssh', { 'dst-port': '2222' }), rule('keep'), rule('new', { action: 'drop' })],
    });
    expect(diffSnapshots(before, after)).toEqual([
      {
        path: '/ip/firewall/filter',
        added: [rule('new', { action: 'drop' })],
        removed: [rule('old')],
        changed: [{ item: { comment: 'ssh' }, before: { 'dst-port': '22' }, after: { 'dst-port': '2222' } }],
        moved: [],
      },
    ]);
  });

  it('counts a menu one snapshot lacks as all added', () => {
    const before: SnapshotContent = { menus: [] };
    const after = snapshot({ filter: [rule('a')] });
    const diff = diffSnapshots(before, after);
    expect(diff.map((menu) => [menu.path, menu.added.length])).toEqual([
      ['/system/identity', 1],
      ['/ip/firewall/filter', 1],
    ]);
  });
});
