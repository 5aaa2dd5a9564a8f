import { checkForUpdates, downloadUpdate, installUpdate, reboot } from './commands/package-update.js';
import { monitorTraffic } from './commands/monitor-traffic.js';
import { connectedRoute, connectedRoutes, networkOf } from './connected-routes.js';
import type { FieldDefinition, MenuDefinition } from './definition.js';
import {
  boardOf,
  cpuLoad,
  formatDate,
  formatDateTime,
  formatTime,
  freeMemory,
  interfaceCounters,
  macAddress,
  portNumber,
  serialNumber,
  uptime,
  versionText,
} from './hardware.js';

/*
 * The menu table: every menu the simulator knows, as data. A menu is its path, its fields (with
 * defaults), its key, whether it holds one item or an (ordered) list, the items a new router has,
 * and the values that change by themselves. Adding a menu is adding a row here.
 */

const text = (name: string, more: Omit<FieldDefinition, 'name'> = {}): FieldDefinition => ({ name, ...more });
const bool = (name: string, fallback?: 'true' | 'false', more: Omit<FieldDefinition, 'name' | 'type'> = {}) =>
  ({
    name,
    type: 'bool',
    ...(fallback === undefined ? {} : { default: fallback }),
    ...more,
  }) as FieldDefinition;
const readOnly = (name: string, fallback?: string): FieldDefinition => ({
  name,
  readOnly: true,
  ...(fallback === undefined ? {} : { default: fallback }),
});

const comment = text('comment');
const disabled = bool('disabled', 'false');
const dynamic = bool('dynamic', 'false', { readOnly: true });
const invalid = bool('invalid', 'false', { readOnly: true });
const INTERFACES = ['/interface', '/interface/bridge'] as const;

const firewallMatchers: readonly FieldDefinition[] = [
  text('chain', { required: true }),
  text('action', { default: 'accept' }),
  text('protocol'),
  text('src-address'),
  text('dst-address'),
  text('src-port'),
  text('dst-port'),
  text('src-address-list'),
  text('dst-address-list'),
  text('in-interface', { references: INTERFACES }),
  text('out-interface', { references: INTERFACES }),
  text('in-interface-list'),
  text('out-interface-list'),
  text('connection-state'),
];
const firewallTail: readonly FieldDefinition[] = [
  bool('log', 'false'),
  text('log-prefix', { default: '' }),
  readOnly('bytes', '0'),
  readOnly('packets', '0'),
  invalid,
  dynamic,
  disabled,
  comment,
];

const SERVICES: readonly [string, number, boolean][] = [
  ['telnet', 23, false],
  ['ftp', 21, false],
  ['www', 80, false],
  ['ssh', 22, false],
  ['www-ssl', 443, true],
  ['api', 8728, false],
  ['winbox', 8291, false],
  ['api-ssl', 8729, false],
];

/** The address a new router has, as in MikroTik's default configuration (on ether1 here). */
const DEFAULT_ADDRESS = {
  address: '192.168.88.1/24',
  network: '192.168.88.0',
  interface: 'ether1',
  comment: 'defconf',
};

const FULL_POLICY =
  'local,telnet,ssh,ftp,reboot,read,write,policy,test,winbox,password,web,sniff,sensitive,api,romon,rest-api';
const GROUPS: readonly [string, string][] = [
  ['read', 'local,telnet,ssh,reboot,read,test,winbox,password,web,sniff,sensitive,api,romon,rest-api'],
  ['write', 'local,telnet,ssh,reboot,read,write,test,winbox,password,web,sniff,sensitive,api,romon,rest-api'],
  ['full', FULL_POLICY],
];

export const MENUS: readonly MenuDefinition[] = [
  {
    path: '/system',
    commandsOnly: true,
    fields: [],
    commands: { reboot },
  },
  {
    path: '/system/identity',
    singleValue: true,
    fields: [text('name')],
    perRouterSeed: true,
    seed: (facts) => [{ values: { name: facts.name } }],
  },
  {
    path: '/system/resource',
    singleValue: true,
    verbs: ['print', 'getall', 'listen'],
    fields: [
      readOnly('uptime'),
      readOnly('version'),
      readOnly('build-time'),
      readOnly('factory-software'),
      readOnly('free-memory'),
      readOnly('total-memory'),
      readOnly('cpu'),
      readOnly('cpu-count'),
      readOnly('cpu-frequency'),
      readOnly('cpu-load'),
      readOnly('free-hdd-space'),
      readOnly('total-hdd-space'),
      readOnly('write-sect-since-reboot'),
      readOnly('write-sect-total'),
      readOnly('bad-blocks', '0'),
      readOnly('architecture-name'),
      readOnly('board-name'),
      readOnly('platform', 'MikroTik'),
    ],
    seed: () => [{ values: {} }],
    live: (_values, facts) => {
      const board = boardOf(facts);
      const seconds = Math.floor((facts.now() - facts.bootTime) / 1000);
      return {
        uptime: uptime(facts),
        version: versionText(facts),
        'build-time': formatDateTime(facts, Date.UTC(2025, 1, 26, 11, 50, 56)),
        'factory-software': '7.1',
        'free-memory': String(freeMemory(facts)),
        'total-memory': String(board.totalMemory),
        cpu: board.cpu,
        'cpu-count': String(board.cpuCount),
        'cpu-frequency': String(board.cpuFrequency),
        'cpu-load': String(cpuLoad(facts)),
        'free-hdd-space': String(Math.round(board.totalHdd * 0.7)),
        'total-hdd-space': String(board.totalHdd),
        'write-sect-since-reboot': String(Math.floor(seconds / 60)),
        'write-sect-total': String(10_000 + Math.floor(seconds / 60)),
        'architecture-name': board.architecture,
        'board-name': board.boardName,
      };
    },
  },
  {
    path: '/system/clock',
    singleValue: true,
    fields: [
      readOnly('time'),
      readOnly('date'),
      bool('time-zone-autodetect', 'true'),
      text('time-zone-name', { default: 'manual' }),
      readOnly('gmt-offset', '+00:00'),
      readOnly('dst-active', 'false'),
    ],
    seed: () => [{ values: {} }],
    live: (_values, facts) => ({ time: formatTime(facts.now()), date: formatDate(facts, facts.now()) }),
  },
  {
    path: '/system/routerboard',
    singleValue: true,
    verbs: ['print', 'getall', 'listen'],
    fields: [
      readOnly('routerboard', 'true'),
      readOnly('board-name'),
      readOnly('model'),
      readOnly('serial-number'),
      readOnly('firmware-type'),
      readOnly('factory-firmware'),
      readOnly('current-firmware'),
      readOnly('upgrade-firmware'),
    ],
    seed: () => [{ values: {} }],
    live: (_values, facts) => {
      const board = boardOf(facts);
      return {
        'board-name': board.boardName,
        model: board.model,
        'serial-number': serialNumber(facts),
        'firmware-type': board.firmwareType,
        'factory-firmware': facts.profile.major === 6 ? '3.41' : '7.1',
        'current-firmware': facts.profile.release,
        'upgrade-firmware': facts.installedVersion,
      };
    },
  },
  {
    path: '/system/package/update',
    singleValue: true,
    fields: [
      text('channel', { default: 'stable', values: ['stable', 'long-term', 'testing', 'development'] }),
      readOnly('installed-version'),
      readOnly('latest-version'),
      readOnly('status'),
    ],
    seed: (facts) => [{ values: { channel: facts.profile.channel } }],
    live: (_values, facts) => ({ 'installed-version': facts.installedVersion }),
    commands: { 'check-for-updates': checkForUpdates, download: downloadUpdate, install: installUpdate },
  },
  {
    path: '/system/ntp/client',
    singleValue: true,
    fields: [
      bool('enabled', 'false'),
      text('mode', {
        default: 'unicast',
        values: ['unicast', 'broadcast', 'multicast', 'manycast'],
        major: 7,
      }),
      text('servers', { default: '', major: 7 }),
      text('vrf', { default: 'main', major: 7 }),
      text('primary-ntp', { default: '0.0.0.0', major: 6 }),
      text('secondary-ntp', { default: '0.0.0.0', major: 6 }),
      text('server-dns-names', { default: '', major: 6 }),
      readOnly('status'),
    ],
    seed: () => [{ values: {} }],
    live: (values) => ({ status: values.enabled === 'true' ? 'synchronized' : 'stopped' }),
  },
  {
    path: '/system/scheduler',
    nameField: 'name',
    autoName: 'schedule',
    key: { fields: ['name'], message: 'failure: already have such name' },
    fields: [
      text('name'),
      text('start-date'),
      text('start-time', { default: 'startup' }),
      text('interval', { default: '0s' }),
      text('on-event', { default: '' }),
      text('owner', { default: 'admin' }),
      text('policy', { default: 'ftp,reboot,read,write,policy,test,password,sniff,sensitive,romon' }),
      readOnly('run-count', '0'),
      readOnly('next-run'),
      disabled,
      comment,
    ],
  },
  {
    path: '/system/script',
    nameField: 'name',
    autoName: 'script',
    key: { fields: ['name'], message: 'failure: already have such name' },
    fields: [
      text('name'),
      text('owner', { default: 'admin' }),
      text('policy', { default: 'ftp,reboot,read,write,policy,test,password,sniff,sensitive,romon' }),
      bool('dont-require-permissions', 'false'),
      readOnly('run-count', '0'),
      readOnly('last-started'),
      text('source', { default: '' }),
      invalid,
      comment,
    ],
  },
  {
    path: '/ip/address',
    key: { fields: ['address'], message: 'failure: already have such address' },
    fields: [
      text('address', { required: true }),
      text('network'),
      text('interface', { required: true, references: INTERFACES }),
      readOnly('actual-interface'),
      invalid,
      dynamic,
      disabled,
      comment,
    ],
    seed: () => [{ values: DEFAULT_ADDRESS }],
    derive: (values): Record<string, string> => {
      const network = values.address === undefined ? undefined : networkOf(values.address);
      return network === undefined ? {} : { network };
    },
    live: (values) => ({ 'actual-interface': values.interface ?? '' }),
    onChange: connectedRoutes,
  },
  {
    path: '/ip/route',
    lockedMessage: 'failure: can not remove dynamic route',
    fields: [
      text('dst-address', { required: true }),
      text('gateway'),
      text('pref-src'),
      text('distance', { default: '1' }),
      text('scope', { default: '30' }),
      text('target-scope', { default: '10' }),
      text('routing-table', { default: 'main', major: 7 }),
      text('routing-mark', { major: 6 }),
      readOnly('active', 'true'),
      readOnly('static', 'true'),
      readOnly('connect', 'false'),
      dynamic,
      disabled,
      comment,
    ],
    seed: () => [{ values: connectedRoute(DEFAULT_ADDRESS)!, locked: true }],
  },
  {
    path: '/ip/dns',
    singleValue: true,
    fields: [
      text('servers', { default: '' }),
      readOnly('dynamic-servers', ''),
      bool('allow-remote-requests', 'false'),
      text('max-udp-packet-size', { default: '4096' }),
      text('cache-size', { default: '2048KiB' }),
      readOnly('cache-used', '24KiB'),
    ],
    seed: () => [{ values: {} }],
  },
  {
    path: '/ip/pool',
    nameField: 'name',
    autoName: 'pool',
    key: { fields: ['name'], message: 'failure: already have such name' },
    fields: [
      text('name'),
      text('ranges', { required: true }),
      text('next-pool', { default: 'none' }),
      comment,
    ],
  },
  {
    path: '/ip/dhcp-server',
    nameField: 'name',
    autoName: 'dhcp',
    key: { fields: ['name'], message: 'failure: already have such name' },
    fields: [
      text('name'),
      text('interface', { required: true, references: INTERFACES }),
      text('address-pool', { default: 'static-only' }),
      text('lease-time', { default: '30m' }),
      text('authoritative', { default: 'yes' }),
      invalid,
      dynamic,
      disabled,
      comment,
    ],
  },
  {
    path: '/ip/dhcp-server/network',
    key: { fields: ['address'], message: 'failure: already have such address' },
    fields: [
      text('address', { required: true }),
      text('gateway'),
      text('netmask'),
      text('dns-server'),
      text('domain'),
      text('ntp-server'),
      dynamic,
      comment,
    ],
  },
  {
    path: '/ip/firewall/filter',
    ordered: true,
    fields: [...firewallMatchers, text('reject-with'), ...firewallTail],
  },
  {
    path: '/ip/firewall/nat',
    ordered: true,
    fields: [...firewallMatchers, text('to-addresses'), text('to-ports'), ...firewallTail],
  },
  {
    path: '/ip/service',
    nameField: 'name',
    verbs: ['print', 'getall', 'listen', 'set', 'unset', 'enable', 'disable'],
    fields: [
      readOnly('name'),
      text('port'),
      text('address', { default: '' }),
      text('certificate'),
      text('vrf', { default: 'main', major: 7 }),
      invalid,
      disabled,
    ],
    seed: () =>
      SERVICES.map(([name, port, off]) => ({
        values: {
          name,
          port: String(port),
          ...(name === 'www-ssl' || name === 'api-ssl' ? { certificate: 'none' } : {}),
          disabled: off ? 'true' : 'false',
        },
        locked: true,
      })),
  },
  {
    path: '/interface',
    nameField: 'name',
    verbs: ['print', 'getall', 'listen', 'set', 'unset', 'enable', 'disable', 'remove'],
    lockedMessage: 'failure: can not remove ethernet interface',
    key: {
      fields: ['name'],
      message: 'failure: already have interface with such name',
      alsoIn: ['/interface/bridge'],
    },
    fields: [
      text('name'),
      readOnly('default-name'),
      readOnly('type', 'ether'),
      text('mtu', { default: '1500' }),
      readOnly('actual-mtu', '1500'),
      text('l2mtu', { default: '1514' }),
      readOnly('mac-address'),
      readOnly('last-link-up-time'),
      readOnly('link-downs', '0'),
      readOnly('rx-byte'),
      readOnly('tx-byte'),
      readOnly('rx-packet'),
      readOnly('tx-packet'),
      readOnly('rx-drop'),
      readOnly('tx-drop'),
      readOnly('tx-queue-drop'),
      readOnly('rx-error'),
      readOnly('tx-error'),
      readOnly('fast-path', 'true'),
      readOnly('running', 'true'),
      disabled,
      comment,
    ],
    seed: (facts) =>
      Array.from({ length: facts.interfaces }, (_, i) => ({
        values: { name: `ether${i + 1}`, 'default-name': `ether${i + 1}` },
        locked: true,
      })),
    live: (values, facts) => {
      const port = portNumber(values['default-name']);
      return {
        'mac-address': macAddress(facts, port),
        'last-link-up-time': formatDateTime(facts, facts.bootTime + 5000),
        ...interfaceCounters(facts, port),
        running: values.disabled === 'true' ? 'false' : 'true',
      };
    },
    commands: { 'monitor-traffic': monitorTraffic },
  },
  {
    path: '/interface/bridge',
    nameField: 'name',
    autoName: 'bridge',
    key: {
      fields: ['name'],
      message: 'failure: already have interface with such name',
      alsoIn: ['/interface'],
    },
    fields: [
      text('name'),
      text('mtu', { default: 'auto' }),
      readOnly('actual-mtu', '1500'),
      readOnly('l2mtu', '65535'),
      text('arp', { default: 'enabled' }),
      readOnly('mac-address'),
      text('protocol-mode', { default: 'rstp', values: ['none', 'stp', 'rstp', 'mstp'] }),
      bool('vlan-filtering', 'false'),
      bool('auto-mac', 'true'),
      text('admin-mac', { default: '' }),
      readOnly('running', 'true'),
      disabled,
      comment,
    ],
    live: (values, facts) => ({ 'mac-address': macAddress(facts, 200 + (values.name?.length ?? 0)) }),
  },
  {
    path: '/interface/bridge/port',
    key: { fields: ['interface'], message: 'failure: device already added as bridge port' },
    fields: [
      text('interface', { required: true, references: ['/interface'] }),
      text('bridge', { required: true, references: ['/interface/bridge'] }),
      text('pvid', { default: '1' }),
      text('horizon', { default: 'none' }),
      text('priority', { default: '0x80' }),
      text('path-cost', { default: '10' }),
      text('edge', { default: 'auto' }),
      readOnly('hw', 'true'),
      readOnly('inactive', 'false'),
      dynamic,
      disabled,
      comment,
    ],
  },
  {
    path: '/user',
    nameField: 'name',
    perRouterSeed: true,
    seed: (facts) => facts.users.map(({ name, password, group }) => ({ values: { name, group, password } })),
    key: { fields: ['name'], message: 'failure: already have such name' },
    fields: [
      text('name', { required: true }),
      text('group', { required: true, references: ['/user/group'] }),
      text('password', { secret: true }),
      text('address', { default: '' }),
      readOnly('last-logged-in'),
      disabled,
      comment,
    ],
  },
  {
    path: '/user/group',
    nameField: 'name',
    lockedMessage: 'failure: can not remove builtin group',
    key: { fields: ['name'], message: 'failure: already have such name' },
    fields: [
      text('name', { required: true }),
      text('policy', { default: '' }),
      text('skin', { default: 'default' }),
      comment,
    ],
    seed: () => GROUPS.map(([name, policy]) => ({ values: { name, policy, skin: 'default' }, locked: true })),
  },
  {
    path: '/snmp',
    singleValue: true,
    fields: [
      bool('enabled', 'false'),
      text('contact', { default: '' }),
      text('location', { default: '' }),
      text('engine-id', { default: '' }),
      text('trap-target', { default: '' }),
      text('trap-community', { default: 'public' }),
      text('trap-version', { default: '1' }),
      text('trap-generators', { default: 'temp-exception' }),
      text('src-address', { default: '::' }),
    ],
    seed: () => [{ values: {} }],
  },
];

const BY_PATH = new Map(MENUS.map((menu) => [menu.path, menu]));

/** Every directory that has menus under it (`/`, `/ip`, `/ip/firewall`, …). */
const DIRECTORIES = new Set(
  MENUS.flatMap((menu) => {
    const parts = menu.path.split('/').filter((part) => part !== '');
    return parts.map((_, i) => `/${parts.slice(0, i).join('/')}`);
  }),
);

export function findMenu(path: string): MenuDefinition | undefined {
  return BY_PATH.get(path);
}

export function isDirectory(path: string): boolean {
  return DIRECTORIES.has(path) || BY_PATH.has(path);
}
