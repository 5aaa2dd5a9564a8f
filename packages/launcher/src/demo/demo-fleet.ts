import type { RouterSpec } from '@fleet/routeros-sim';

/** The simulated routers of the demo: how many, where they stand, what they run. */
const SITES = [
  { site: 'ams', routers: 7 },
  { site: 'fra', routers: 7 },
  { site: 'lon', routers: 6 },
] as const;

/** Release lines the simulator offers, mixed as a fleet upgraded over the years would be. */
const VERSIONS = ['7.18', '7.16', '7.18', '6.49', '7.16', '6.42'] as const;

export interface DemoRouter {
  spec: Required<Pick<RouterSpec, 'name' | 'version'>>;
  site: string;
  tags: string[];
}

/** Twenty routers over three sites: a core router per site and edge routers, RouterOS 6 and 7. */
export const DEMO_ROUTERS: readonly DemoRouter[] = SITES.flatMap(({ site, routers }, siteIndex) =>
  Array.from({ length: routers }, (_, index) => {
    const version = VERSIONS[(siteIndex * 3 + index) % VERSIONS.length]!;
    const role = index === 0 ? 'core' : 'edge';
    return {
      spec: { name: `${site}-${role}-${String(index + 1).padStart(2, '0')}`, version },
      site,
      tags: [role, `ros${version.split('.')[0]}`],
    };
  }),
);

export const DEMO_TENANT = { name: 'Demo', slug: 'demo' } as const;
export const DEMO_OWNER_EMAIL = 'demo@fleet.local';

/**
 * A small baseline every demo router gets: its name, resolvers, where it stands for SNMP, and
 * three input rules. Menus every simulated RouterOS release knows alike (NTP servers differ
 * between 6 and 7, so they are left out).
 */
export const DEMO_TEMPLATE = {
  name: 'baseline',
  variables: [
    { name: 'hostname', type: 'hostname', description: "The router's name" },
    { name: 'site', type: 'string', description: 'Where the router stands' },
  ],
  spec: {
    identity: { name: '${hostname}' },
    dns: { servers: ['9.9.9.9', '1.1.1.1'] },
    snmp: { enabled: true, location: '${site}', contact: 'noc@demo.example' },
    firewallFilter: [
      {
        chain: 'input',
        action: 'accept',
        connectionState: 'established,related',
        comment: 'demo: established',
      },
      { chain: 'input', action: 'accept', protocol: 'icmp', comment: 'demo: icmp' },
      { chain: 'input', action: 'accept', protocol: 'tcp', dstPort: '8729', comment: 'demo: api-ssl' },
    ],
  },
} as const;
