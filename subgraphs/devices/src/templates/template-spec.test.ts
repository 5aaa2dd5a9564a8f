import { describe, expect, it } from 'vitest';
import { renderSpec, validateSpec } from './template-spec.js';
import { resolveValues, validateDeclarations } from './template-variables.js';

const declared = validateDeclarations([
  { name: 'site', type: 'string' },
  { name: 'lan', type: 'ipv4Cidr', default: '192.168.88.1/24' },
  { name: 'sshPort', type: 'port', default: '22' },
]);

const spec = validateSpec(
  {
    identity: { name: '${site}-gw' },
    dns: { servers: ['1.1.1.1', '9.9.9.9'], allowRemoteRequests: false },
    services: [
      { name: 'telnet', disabled: true },
      { name: 'ssh', port: '${sshPort}' },
    ],
    addresses: [{ address: '${lan}', interface: 'bridge', comment: 'LAN of ${site}' }],
    firewallFilter: [
      { chain: 'input', action: 'accept', connectionState: 'established,related' },
      { chain: 'input', action: 'drop', inInterface: 'ether1' },
    ],
  },
  declared,
);

describe('template desired state', () => {
  it('renders per device, in RouterOS names, menus in apply order', () => {
    const desired = renderSpec(spec, resolveValues(declared, { site: 'ams' }));
    expect(desired.map((menu) => menu.menu.path)).toEqual([
      '/system/identity',
      '/ip/dns',
      '/ip/service',
      '/ip/address',
      '/ip/firewall/filter',
    ]);
    expect(desired[0]!.items).toEqual([{ name: 'ams-gw' }]);
    expect(desired[1]!.items).toEqual([{ servers: '1.1.1.1,9.9.9.9', 'allow-remote-requests': 'false' }]);
    expect(desired[2]!.items).toEqual([
      { name: 'telnet', disabled: 'true' },
      { name: 'ssh', port: '22' },
    ]);
    expect(desired[3]!.items).toEqual([
      { address: '192.168.88.1/24', interface: 'bridge', comment: 'LAN of ams' },
    ]);
    expect(desired[4]!.items[0]).toEqual({
      chain: 'input',
      action: 'accept',
      'connection-state': 'established,related',
    });
  });

  it.each([
    [{ routers: [] }, 'spec.routers', /templates know no menu routers/],
    [{ identity: [] }, 'spec.identity', /identity is one object/],
    [{ identity: {} }, 'spec.identity.name', /name is required/],
    [{ dns: { servers: '1.1.1.1' } }, 'spec.dns.servers', /list of at most 64 texts/],
    [
      { firewallFilter: [{ chain: 'input', action: 'allow' }] },
      'spec.firewallFilter[0].action',
      /one of accept/,
    ],
    [
      { firewallFilter: [{ chain: 'input', action: 'drop', colour: 'red' }] },
      'spec.firewallFilter[0].colour',
      /no property/,
    ],
    [{ addresses: [{ address: '10.0.0.1', interface: 'x' }] }, 'spec.addresses[0].address', /valid ipv4Cidr/],
    [
      { identity: { name: '${nope}' } },
      'spec.identity.name',
      /\$\{nope\} is not a variable of this template/,
    ],
    [{ identity: { name: '${1bad}' } }, 'spec.identity.name', /not a variable reference/],
    [{ snmp: { enabled: 'yes' } }, 'spec.snmp.enabled', /true or false/],
  ])('refuses %j, naming %s', (input, field, message) => {
    expect(() => validateSpec(input, declared)).toThrow(message);
    try {
      validateSpec(input, declared);
    } catch (error) {
      expect((error as { extensions: { field: string } }).extensions.field).toBe(field);
    }
  });

  it('names the variable when a device value does not fit', () => {
    const check = (values: Record<string, unknown>) => {
      try {
        renderSpec(spec, resolveValues(declared, values));
        return undefined;
      } catch (error) {
        return {
          message: (error as Error).message,
          field: (error as { extensions: { field: string } }).extensions.field,
        };
      }
    };
    expect(check({})).toEqual({ message: 'site is required', field: 'variables.site' });
    expect(check({ site: 'a', lan: '10.0.0.1' })).toEqual({
      message: 'lan must be an IPv4 address with a prefix length, like 192.168.88.1/24',
      field: 'variables.lan',
    });
    expect(check({ site: 'a', sshPort: 70000 })).toEqual({
      message: 'sshPort must be a port number (1 to 65535)',
      field: 'variables.sshPort',
    });
    expect(check({ site: 'a', extra: 'x' })).toEqual({
      message: 'the template declares no variable extra',
      field: 'variables.extra',
    });
    expect(check({ site: 'x'.repeat(253) })).toEqual({
      message: 'identity.name must be at most 255 printable characters (from ${site})',
      field: 'variables.site',
    });
  });

  it('refuses two items with one key once rendered', () => {
    const keyed = validateSpec(
      {
        addresses: [
          { address: '${lan}', interface: 'bridge' },
          { address: '192.168.88.1/24', interface: 'bridge' },
        ],
      },
      declared,
    );
    expect(() => renderSpec(keyed, resolveValues(declared, { site: 'a' }))).toThrow(
      /two addresses items share address and interface/,
    );
  });

  it('checks declarations, naming the variable', () => {
    expect(() => validateDeclarations([{ name: 'a', type: 'ipv6' }])).toThrow(/type must be one of/);
    expect(() => validateDeclarations([{ name: 'a', type: 'port', default: '0' }])).toThrow(
      /default must be a port number/,
    );
    expect(() =>
      validateDeclarations([
        { name: 'a', type: 'string' },
        { name: 'a', type: 'string' },
      ]),
    ).toThrow(/a is declared twice/);
  });
});
