import { describe, expect, it } from 'vitest';
import type { Row } from '@fleet/router-api';
import { digestOf, normalizeSnapshot, serializeSnapshot } from './snapshot.js';

/** What a router prints of a few managed menus, with the noise RouterOS adds. */
function printed(overrides: Partial<Record<string, Row[]>> = {}): Map<string, Row[]> {
  return new Map(
    Object.entries({
      '/system/identity': [{ name: 'gw-ams' }],
      '/ip/dns': [
        {
          servers: '9.9.9.9',
          'dynamic-servers': '10.0.0.1',
          'allow-remote-requests': 'false',
          'cache-used': '31KiB',
        },
      ],
      '/ip/address': [
        {
          '.id': '*1',
          address: '192.168.88.1/24',
          network: '192.168.88.0',
          interface: 'ether1',
          'actual-interface': 'ether1',
          invalid: 'false',
          dynamic: 'false',
          disabled: 'false',
          comment: 'defconf',
        },
        { '.id': '*7', address: '10.0.0.9/24', interface: 'ether2', dynamic: 'true', disabled: 'false' },
        { '.id': '*3', address: '10.30.0.1/24', interface: 'ether2', disabled: 'false', comment: '' },
      ],
      '/ip/route': [
        {
          '.id': '*8000000',
          'dst-address': '192.168.88.0/24',
          gateway: 'ether1',
          active: 'true',
          connect: 'true',
          dynamic: 'true',
        },
        { '.id': '*2', 'dst-address': '0.0.0.0/0', gateway: '10.30.0.254', active: 'true', static: 'true' },
      ],
      '/ip/firewall/filter': [
        { '.id': '*A', chain: 'input', action: 'accept', bytes: '91823', packets: '77', comment: 'b' },
        { '.id': '*5', chain: 'input', action: 'drop', bytes: '0', packets: '0', comment: 'a' },
      ],
      '/user/group': [
        { '.id': '*1', name: 'full', policy: 'local,read,write', builtin: 'true' },
        { '.id': '*9', name: 'ops', policy: 'read' },
      ],
      '/user': [{ '.id': '*2', name: 'fleet', group: 'full', 'last-logged-in': '2026-12-01 06:00:00' }],
      ...overrides,
    }) as [string, Row[]][],
  );
}

describe('normalizeSnapshot', () => {
  it('keeps configuration and drops ids, run-time state, dynamic and built-in items', () => {
    const content = normalizeSnapshot(printed());
    const menu = (path: string) => content.menus.find((candidate) => candidate.path === path)?.items;
    expect(menu('/ip/dns')).toEqual([{ 'allow-remote-requests': 'false', servers: '9.9.9.9' }]);
    expect(menu('/ip/address')).toEqual([
      { address: '10.30.0.1/24', disabled: 'false', interface: 'ether2' },
      {
        address: '192.168.88.1/24',
        comment: 'defconf',
        disabled: 'false',
        interface: 'ether1',
        network: '192.168.88.0',
      },
    ]);
    expect(menu('/ip/route')).toEqual([{ 'dst-address': '0.0.0.0/0', gateway: '10.30.0.254' }]);
    expect(menu('/ip/firewall/filter')).toEqual([
      { action: 'accept', chain: 'input', comment: 'b' },
      { action: 'drop', chain: 'input', comment: 'a' },
    ]);
    expect(menu('/user/group')).toEqual([{ name: 'ops', policy: 'read' }]);
    expect(menu('/user')).toEqual([{ group: 'full', name: 'fleet' }]);
    // Menus the router was not asked for (or does not have) are absent, in template order.
    expect(content.menus.map((candidate) => candidate.path)).toEqual([
      '/system/identity',
      '/ip/dns',
      '/user/group',
      '/user',
      '/ip/address',
      '/ip/route',
      '/ip/firewall/filter',
    ]);
  });

  it('gives the same digest whatever the ids, counters, item and property order of keyed menus', () => {
    const first = serializeSnapshot(normalizeSnapshot(printed()));
    const reordered = printed({
      '/ip/address': [
        { disabled: 'false', interface: 'ether2', address: '10.30.0.1/24', '.id': '*44' },
        {
          comment: 'defconf',
          address: '192.168.88.1/24',
          disabled: 'false',
          interface: 'ether1',
          network: '192.168.88.0',
          '.id': '*2',
        },
      ],
      '/ip/firewall/filter': [
        { '.id': '*B', chain: 'input', action: 'accept', bytes: '1', packets: '1', comment: 'b' },
        { '.id': '*C', chain: 'input', action: 'drop', bytes: '99', packets: '3', comment: 'a' },
      ],
      '/user': [{ '.id': '*2', name: 'fleet', group: 'full', 'last-logged-in': '2026-12-01 07:30:00' }],
    });
    const second = serializeSnapshot(normalizeSnapshot(reordered));
    expect(second).toBe(first);
    expect(digestOf(second)).toBe(digestOf(first));
    expect(digestOf(first)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('keeps the order of ordered menus: swapped rules are another configuration', () => {
    const swapped = printed({
      '/ip/firewall/filter': [
        { '.id': '*5', chain: 'input', action: 'drop', comment: 'a' },
        { '.id': '*A', chain: 'input', action: 'accept', comment: 'b' },
      ],
    });
    expect(digestOf(serializeSnapshot(normalizeSnapshot(swapped)))).not.toBe(
      digestOf(serializeSnapshot(normalizeSnapshot(printed()))),
    );
  });

  it('never keeps a secret a router prints', () => {
    const content = normalizeSnapshot(
      printed({ '/user': [{ '.id': '*2', name: 'fleet', group: 'full', password: 'hunter2' }] }),
    );
    expect(serializeSnapshot(content)).not.toContain('hunter2');
  });

  it('keeps the built-in items of fixed menus: their settings are the configuration', () => {
    const content = normalizeSnapshot(
      new Map<string, Row[]>([
        [
          '/ip/service',
          [
            { '.id': '*2', name: 'telnet', port: '23', disabled: 'true', invalid: 'false', builtin: 'true' },
            { '.id': '*1', name: 'api-ssl', port: '8729', disabled: 'false', certificate: 'fleet' },
          ],
        ],
      ]),
    );
    expect(content.menus).toEqual([
      {
        path: '/ip/service',
        items: [
          { certificate: 'fleet', disabled: 'false', name: 'api-ssl', port: '8729' },
          { disabled: 'true', name: 'telnet', port: '23' },
        ],
      },
    ]);
  });
});
