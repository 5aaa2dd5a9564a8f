import { keyProviderConfigSpec } from '@fleet/envelope';
import {
  integer,
  producerConfigSpec,
  string,
  subgraphConfigSpec,
  url,
  type ConfigOf,
} from '@fleet/service-kit';
import { NETWORK_LIST } from './routers/router-networks.js';

/** Private networks (RFC 1918, carrier-grade NAT, IPv6 unique local): where routers usually are. */
export const DEFAULT_ROUTER_NETWORKS = '10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,100.64.0.0/10,fc00::/7';

export const devicesConfigSpec = {
  ...subgraphConfigSpec('devices', 4102),
  ...producerConfigSpec('devices'),
  ...keyProviderConfigSpec('devices'),
  ROUTER_NETWORKS: string({
    doc: 'Networks the service may reach routers in (CIDR list): a device whose address is elsewhere is refused, so the service cannot be pointed at itself or its neighbours.',
    default: DEFAULT_ROUTER_NETWORKS,
    pattern: NETWORK_LIST,
  }),
  ROUTER_CONNECT_TIMEOUT_MS: integer({
    doc: 'Longest wait to connect and log in to a router.',
    default: 10_000,
    min: 500,
    max: 120_000,
  }),
  ROUTER_CALL_TIMEOUT_MS: integer({
    doc: 'Longest wait for one router API call.',
    default: 15_000,
    min: 500,
    max: 300_000,
  }),
  ENROLL_URL: url({
    doc: "The gateway's public enrollment endpoint, which enrollment scripts make routers call (https in production).",
    default: 'http://127.0.0.1:4000/enroll',
  }),
  MAX_DEVICES_PER_TENANT: integer({
    doc: "Most devices a tenant may have (until billing's plans set each tenant's quota).",
    default: 250,
    min: 0,
    max: 1_000_000,
  }),
};

export type DevicesConfig = ConfigOf<typeof devicesConfigSpec>;
