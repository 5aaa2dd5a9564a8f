import { keyProviderConfigSpec } from '@fleet/envelope';
import {
  integer,
  optionalString,
  producerConfigSpec,
  redisUrl,
  signingKey,
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
    default: 'https://127.0.0.1:4000/enroll',
  }),
  JOB_CONCURRENCY: integer({
    doc: 'Provisioning jobs this process runs at once.',
    default: 20,
    min: 1,
    max: 1_000,
  }),
  JOB_PER_TENANT: integer({
    doc: 'Provisioning jobs of one tenant running at once, across every devices process.',
    default: 10,
    min: 1,
    max: 1_000,
  }),
  JOB_TOTAL: integer({
    doc: 'Provisioning jobs running at once across every devices process (the global cap).',
    default: 200,
    min: 1,
    max: 100_000,
  }),
  JOB_POLL_MS: integer({
    doc: 'How often idle workers look for due jobs.',
    default: 1_000,
    min: 50,
    max: 60_000,
  }),
  JOB_LEASE_MS: integer({
    doc: "How long a worker holds a job without renewing: a dead worker's jobs resume after this.",
    default: 30_000,
    min: 1_000,
    max: 600_000,
  }),
  JOB_BACKOFF_MS: integer({
    doc: 'First wait before a job is tried again; it doubles with each attempt.',
    default: 5_000,
    min: 100,
    max: 3_600_000,
  }),
  JOB_MAX_BACKOFF_MS: integer({
    doc: 'Longest wait between two attempts of a job.',
    default: 300_000,
    min: 100,
    max: 86_400_000,
  }),
  JOB_MAX_ATTEMPTS: integer({
    doc: 'Attempts of a job whose router keeps dropping the connection mid-apply, before it fails (offline routers wait instead).',
    default: 5,
    min: 1,
    max: 100,
  }),
  ROLLOUT_POLL_MS: integer({
    doc: 'How often running rollouts are looked at, to queue their next stage once a stage has ended.',
    default: 2_000,
    min: 50,
    max: 60_000,
  }),
  SAFE_APPLY_REVERT_S: integer({
    doc: 'Safe apply: a router whose management access a job changed undoes the changes after this many seconds, unless the platform can still reach it and calls the revert off.',
    default: 300,
    min: 30,
    max: 86_400,
  }),
  STATUS_INTERVAL_MS: integer({
    doc: 'How often the status pollers read each device (resources and interface counters).',
    default: 10_000,
    min: 100,
    max: 3_600_000,
  }),
  STATUS_TIMEOUT_MS: integer({
    doc: 'Longest wait for a status poll (connecting included) before it counts as unanswered.',
    default: 5_000,
    min: 100,
    max: 120_000,
  }),
  STATUS_OFFLINE_AFTER: integer({
    doc: 'Unanswered polls in a row before a device counts as offline.',
    default: 3,
    min: 1,
    max: 100,
  }),
  STATUS_ONLINE_AFTER: integer({
    doc: 'Answered polls in a row before an offline device counts as online again.',
    default: 2,
    min: 1,
    max: 100,
  }),
  STATUS_SUBSCRIBER_BUFFER: integer({
    doc: 'Events kept for a slow subscriber before the oldest are dropped (statuses are latest-value).',
    default: 64,
    min: 1,
    max: 10_000,
  }),
  REDIS_URL: redisUrl({
    doc: 'Redis shared by the devices replicas: live events cross replicas through its pub/sub, and the replicas share the polling of the fleet (each device polled by exactly one). Unset: one process, events in memory.',
  }),
  REDIS_CA_FILE: optionalString({
    doc: 'PEM authority a `rediss://` Redis server is verified against; unset means the system’s authorities.',
  }),
  REDIS_NAMESPACE: string({
    doc: 'Prefix of the keys and channels in Redis, so that several deployments can share one.',
    default: 'fleet',
    pattern: /^[A-Za-z0-9:_-]{1,64}$/,
  }),
  POLL_LEASE_MS: integer({
    doc: "With Redis: how long a replica holds its devices without renewing; a dead replica's devices are taken over after this.",
    default: 15_000,
    min: 1_000,
    max: 600_000,
  }),
  BACKUP_INTERVAL_S: integer({
    doc: 'How often each device is backed up on schedule (besides after every successful job); replicas share the schedule.',
    default: 86_400,
    min: 1,
    max: 2_592_000,
  }),
  BACKUP_KEEP: integer({
    doc: 'Snapshots kept per device, newest first: older ones are deleted, and content no snapshot points at with them.',
    default: 100,
    min: 1,
    max: 10_000,
  }),
  DRIFT_INTERVAL_S: integer({
    doc: "How often each provisioned device is compared with its desired state (its last succeeded job's template version and variables).",
    default: 3_600,
    min: 1,
    max: 2_592_000,
  }),
  BACKUP_CONCURRENCY: integer({
    doc: 'Scheduled backups, and apart from them drift checks, this process runs at once.',
    default: 5,
    min: 1,
    max: 1_000,
  }),
  MAX_DEVICES_PER_TENANT: integer({
    doc: "Most devices a tenant may have when DEVICES_BILLING_URL is unset and billing never told devices the tenant's plan.",
    default: 250,
    min: 0,
    max: 1_000_000,
  }),
  BILLING_URL: url({
    doc: "Base URL of the billing service, which devices asks for a tenant's device quota (its plan's) when it knows none; unset means DEVICES_MAX_DEVICES_PER_TENANT for every tenant.",
    optional: true,
  }),
  KEY_BILLING: signingKey(
    "Key of the billing/devices pair: billing signs the entitlements it pushes with it, devices its questions about a tenant's plan (base64url, 32 bytes).",
  ),
};

export type DevicesConfig = ConfigOf<typeof devicesConfigSpec>;
