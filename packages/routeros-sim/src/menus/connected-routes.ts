import { withDefaults } from './fields.js';
import type { MenuChange, RouterConfig } from './router-config.js';

function parseAddress(address: string): { ip: number; prefix: number } | undefined {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:\/(\d{1,2}))?$/.exec(address);
  if (!match) return undefined;
  const octets = match.slice(1, 5).map(Number);
  const prefix = match[5] === undefined ? 32 : Number(match[5]);
  if (octets.some((octet) => octet > 255) || prefix > 32) return undefined;
  const ip = octets.reduce((value, octet) => value * 256 + octet, 0);
  return { ip, prefix };
}

function dotted(ip: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(ip / 2 ** shift) % 256).join('.');
}

function maskedNetwork(ip: number, prefix: number): number {
  const size = 2 ** (32 - prefix);
  return Math.floor(ip / size) * size;
}

/** `10.0.0.7/24` → `10.0.0.0`. */
export function networkOf(address: string): string | undefined {
  const parsed = parseAddress(address);
  return parsed && dotted(maskedNetwork(parsed.ip, parsed.prefix));
}

/** The dynamic route an enabled address brings with it (what differs from /ip/route's defaults). */
export function connectedRoute(values: Readonly<Record<string, string>>): Record<string, string> | undefined {
  const parsed = parseAddress(values.address ?? '');
  if (!parsed || values.disabled === 'true' || !values.interface) return undefined;
  return {
    'dst-address': `${dotted(maskedNetwork(parsed.ip, parsed.prefix))}/${parsed.prefix}`,
    gateway: values.interface,
    'pref-src': dotted(parsed.ip),
    distance: '0',
    scope: '10',
    'target-scope': '5',
    static: 'false',
    connect: 'true',
    dynamic: 'true',
  };
}

function sameRoute(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  return a['dst-address'] === b['dst-address'] && a.gateway === b.gateway && a['pref-src'] === b['pref-src'];
}

/** Keeps /ip/route's connected routes in step with /ip/address, as the router does. */
export function connectedRoutes(change: MenuChange, config: RouterConfig): void {
  const before = change.previous && connectedRoute(change.previous.values);
  const after = change.kind === 'set' ? connectedRoute(change.row.values) : undefined;
  if (before && after && sameRoute(before, after)) return;
  if (before) {
    const route = config
      .store('/ip/route')
      .rows()
      .find((row) => row.values.connect === 'true' && sameRoute(row.values, before));
    if (route) config.remove('/ip/route', route.id);
  }
  if (after) {
    const routes = config.store('/ip/route').definition;
    config.add('/ip/route', withDefaults(routes, config.facts, after), { locked: true });
  }
}
