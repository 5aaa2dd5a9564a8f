import type { VariableType } from './template-variables.js';

/** One property of a menu item, as templates name it and as RouterOS does. */
export interface PropertyDefinition {
  /** The RouterOS property name. */
  ros: string;
  kind: 'text' | 'bool' | 'int' | 'list';
  required?: boolean;
  /** The only values allowed, after variables are filled in. */
  values?: readonly string[];
  /** What the value must look like once variables are filled in. */
  format?: VariableType;
}

/**
 * A menu a template can describe:
 * - `single`: a menu of one item, set in place (`/system/identity`);
 * - `fixed`: items that always exist and are only set, found by key (`/ip/service`);
 * - `keyed`: items added, set and removed by their primary key (`/ip/address`);
 * - `ordered`: a list whose order matters (firewall rules), compared position by position.
 */
export interface MenuDefinition {
  /** The template's name for the menu. */
  name: string;
  path: string;
  kind: 'single' | 'fixed' | 'keyed' | 'ordered';
  /** The template's names of the properties that identify an item (fixed and keyed menus). */
  key?: readonly string[];
  properties: Readonly<Record<string, PropertyDefinition>>;
}

const text = (ros: string, options: Partial<PropertyDefinition> = {}): PropertyDefinition => ({
  ros,
  kind: 'text',
  ...options,
});
const bool = (ros: string): PropertyDefinition => ({ ros, kind: 'bool' });
const int = (ros: string, options: Partial<PropertyDefinition> = {}): PropertyDefinition => ({
  ros,
  kind: 'int',
  ...options,
});
const list = (ros: string): PropertyDefinition => ({ ros, kind: 'list' });

const FILTER_ACTIONS = [
  'accept',
  'drop',
  'reject',
  'jump',
  'return',
  'log',
  'passthrough',
  'fasttrack-connection',
];
const NAT_ACTIONS = ['accept', 'masquerade', 'src-nat', 'dst-nat', 'redirect', 'netmap', 'return', 'jump'];
const SERVICES = ['telnet', 'ftp', 'www', 'www-ssl', 'ssh', 'api', 'api-ssl', 'winbox'];

/** Every menu a template can describe, in the order a plan applies them. */
export const MENUS: readonly MenuDefinition[] = [
  {
    name: 'identity',
    path: '/system/identity',
    kind: 'single',
    properties: { name: text('name', { required: true }) },
  },
  {
    name: 'dns',
    path: '/ip/dns',
    kind: 'single',
    properties: { servers: list('servers'), allowRemoteRequests: bool('allow-remote-requests') },
  },
  {
    name: 'ntp',
    path: '/system/ntp/client',
    kind: 'single',
    properties: { enabled: bool('enabled'), servers: list('servers') },
  },
  {
    name: 'snmp',
    path: '/snmp',
    kind: 'single',
    properties: { enabled: bool('enabled'), contact: text('contact'), location: text('location') },
  },
  {
    name: 'services',
    path: '/ip/service',
    kind: 'fixed',
    key: ['name'],
    properties: {
      name: text('name', { required: true, values: SERVICES }),
      disabled: bool('disabled'),
      port: int('port', { format: 'port' }),
      address: text('address'),
    },
  },
  {
    name: 'userGroups',
    path: '/user/group',
    kind: 'keyed',
    key: ['name'],
    properties: { name: text('name', { required: true }), policy: text('policy', { required: true }) },
  },
  {
    name: 'users',
    path: '/user',
    kind: 'keyed',
    key: ['name'],
    properties: {
      name: text('name', { required: true }),
      group: text('group', { required: true }),
      disabled: bool('disabled'),
      comment: text('comment'),
    },
  },
  {
    name: 'addresses',
    path: '/ip/address',
    kind: 'keyed',
    key: ['address', 'interface'],
    properties: {
      address: text('address', { required: true, format: 'ipv4Cidr' }),
      interface: text('interface', { required: true }),
      disabled: bool('disabled'),
      comment: text('comment'),
    },
  },
  {
    name: 'routes',
    path: '/ip/route',
    kind: 'keyed',
    key: ['dstAddress', 'gateway'],
    properties: {
      dstAddress: text('dst-address', { required: true, format: 'ipv4Cidr' }),
      gateway: text('gateway', { required: true }),
      distance: int('distance'),
      disabled: bool('disabled'),
      comment: text('comment'),
    },
  },
  {
    name: 'pools',
    path: '/ip/pool',
    kind: 'keyed',
    key: ['name'],
    properties: { name: text('name', { required: true }), ranges: text('ranges', { required: true }) },
  },
  {
    name: 'dhcpServers',
    path: '/ip/dhcp-server',
    kind: 'keyed',
    key: ['name'],
    properties: {
      name: text('name', { required: true }),
      interface: text('interface', { required: true }),
      addressPool: text('address-pool', { required: true }),
      leaseTime: text('lease-time'),
      disabled: bool('disabled'),
    },
  },
  {
    name: 'dhcpNetworks',
    path: '/ip/dhcp-server/network',
    kind: 'keyed',
    key: ['address'],
    properties: {
      address: text('address', { required: true, format: 'ipv4Cidr' }),
      gateway: text('gateway', { format: 'ipv4' }),
      dnsServer: text('dns-server'),
      comment: text('comment'),
    },
  },
  {
    name: 'firewallFilter',
    path: '/ip/firewall/filter',
    kind: 'ordered',
    properties: {
      chain: text('chain', { required: true }),
      action: text('action', { required: true, values: FILTER_ACTIONS }),
      protocol: text('protocol'),
      srcAddress: text('src-address'),
      dstAddress: text('dst-address'),
      srcPort: text('src-port'),
      dstPort: text('dst-port'),
      inInterface: text('in-interface'),
      outInterface: text('out-interface'),
      connectionState: text('connection-state'),
      jumpTarget: text('jump-target'),
      disabled: bool('disabled'),
      comment: text('comment'),
    },
  },
  {
    name: 'nat',
    path: '/ip/firewall/nat',
    kind: 'ordered',
    properties: {
      chain: text('chain', { required: true, values: ['srcnat', 'dstnat'] }),
      action: text('action', { required: true, values: NAT_ACTIONS }),
      protocol: text('protocol'),
      srcAddress: text('src-address'),
      dstAddress: text('dst-address'),
      dstPort: text('dst-port'),
      inInterface: text('in-interface'),
      outInterface: text('out-interface'),
      toAddresses: text('to-addresses'),
      toPorts: text('to-ports'),
      disabled: bool('disabled'),
      comment: text('comment'),
    },
  },
];
