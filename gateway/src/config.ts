import { fileURLToPath } from 'node:url';
import { operationLimitConfigSpec } from './operation-limits/index.js';
import { rateLimitConfigSpec } from './rate-limits/index.js';
import { subscriptionConfigSpec } from './subscriptions/subscription-config.js';
import { tokenKeyRing } from '@fleet/access-tokens';
import {
  boolean,
  integer,
  logLevel,
  mutualTlsConfigSpec,
  oneOf,
  optionalString,
  port,
  signingKey,
  string,
  url,
  type ConfigOf,
  type MutualTls,
} from '@fleet/service-kit';
import { MAX_TRUSTED_PROXY_HOPS } from './authentication/client-address.js';

/** The subgraphs of the federation, in the order they are composed. */
export const SUBGRAPHS = ['aaa', 'devices', 'billing', 'audit'] as const;
export type SubgraphName = (typeof SUBGRAPHS)[number];

export const DEFAULT_SUBGRAPH_PORTS: Record<SubgraphName, number> = {
  aaa: 4101,
  devices: 4102,
  billing: 4103,
  audit: 4104,
};

/**
 * Node's options for the gateway's process, as `npm start` and the container run it. A young
 * generation of 64 MB (V8's default is a quarter of that): requests in flight hold their subgraph
 * answers and merged results for a few milliseconds each, and in a smaller one they outlive their
 * collections and are copied to the old generation. Measured on the peer benchmark: about a sixth
 * less CPU per request, for up to about 100 MB more resident memory under load (bench/README.md).
 */
export const GATEWAY_NODE_OPTIONS = '--max-semi-space-size=64';

export const DEFAULT_SUPERGRAPH_PATH = fileURLToPath(new URL('../supergraph.graphql', import.meta.url));

function subgraphUrl(name: SubgraphName) {
  return url({
    doc: `GraphQL endpoint of the ${name} subgraph.`,
    default: `https://127.0.0.1:${DEFAULT_SUBGRAPH_PORTS[name]}/graphql`,
  });
}

function subgraphKey(name: SubgraphName) {
  return signingKey(`Key the gateway signs its calls to ${name} with (base64url, 32 bytes).`);
}

/** Read with the prefix GATEWAY_: `PORT` is `GATEWAY_PORT`. */
export const gatewayConfigSpec = {
  HOST: string({ doc: 'Address the gateway listens on.', default: '127.0.0.1' }),
  PORT: port({ doc: 'Port of the gateway (0 picks a free one).', default: 4000 }),
  TLS_CERT_FILE: optionalString({
    doc: 'PEM certificate (with its chain) the gateway serves HTTPS and WSS with; taken up again when the file changes.',
  }),
  TLS_KEY_FILE: optionalString({ doc: 'PEM private key of the gateway’s certificate.' }),
  PLAINTEXT_HTTP: boolean({
    doc: 'Serve plain HTTP instead of HTTPS: for local development only, and warned about at start.',
    default: false,
  }),
  HSTS_MAX_AGE_S: integer({
    doc: 'The max-age of the Strict-Transport-Security header every HTTPS answer carries (0 leaves it out).',
    default: 31_536_000,
    min: 0,
    max: 63_072_000,
  }),
  MODE: oneOf(['production', 'development'], {
    doc: 'development turns introspection on and shows unmasked errors; never use it in production.',
    default: 'production',
  }),
  SUPERGRAPH_PATH: string({
    doc: 'The composed supergraph the gateway serves; reloaded when the file changes.',
    default: DEFAULT_SUPERGRAPH_PATH,
  }),
  AAA_URL: subgraphUrl('aaa'),
  DEVICES_URL: subgraphUrl('devices'),
  BILLING_URL: subgraphUrl('billing'),
  AUDIT_URL: subgraphUrl('audit'),
  KEY_AAA: subgraphKey('aaa'),
  KEY_DEVICES: subgraphKey('devices'),
  KEY_BILLING: subgraphKey('billing'),
  KEY_AUDIT: subgraphKey('audit'),
  TOKEN_KEYS: tokenKeyRing(
    'Keys of the encrypted access tokens aaa issues, `kid:base64url,…`: the same ring as AAA_TOKEN_KEYS (every key listed decrypts).',
  ),
  MAX_BODY_BYTES: integer({
    doc: 'Largest request body the gateway reads.',
    default: 1_048_576,
    min: 1_024,
    max: 67_108_864,
  }),
  REVOCATION_POLL_MS: integer({
    doc: 'How often the gateway asks aaa for revoked sessions and API keys: a revoked token or key is refused within about this long.',
    default: 2_000,
    min: 250,
    max: 60_000,
  }),
  TRUSTED_PROXY_HOPS: integer({
    doc: "Reverse proxies in front of the gateway that append to X-Forwarded-For (0: none, the client's address is the connection's); never more than there are.",
    default: 0,
    min: 0,
    max: MAX_TRUSTED_PROXY_HOPS,
  }),
  SUBGRAPH_TIMEOUT_MS: integer({
    doc: 'Longest a single subgraph call may take.',
    default: 10_000,
    min: 100,
    max: 300_000,
  }),
  REQUEST_DEADLINE_MS: integer({
    doc: 'Longest a whole request may take: subgraph calls still to be made after it fail at once.',
    default: 15_000,
    min: 100,
    max: 600_000,
  }),
  MAX_SUBGRAPH_RESPONSE_BYTES: integer({
    doc: 'Largest answer the gateway reads from a subgraph.',
    default: 16_777_216,
    min: 1_024,
    max: 268_435_456,
  }),
  APQ_CACHE_BYTES: integer({
    doc: 'Memory for automatic persisted queries (documents by hash), least recently used first out.',
    default: 8_388_608,
    min: 65_536,
    max: 268_435_456,
  }),
  REQUEST_MERGING: boolean({
    doc: 'Identical queries in flight at once from one caller (same principal, document, operation name and variables) share one execution; each still passes every check and is charged in full.',
    default: true,
  }),
  ...operationLimitConfigSpec,
  ...rateLimitConfigSpec,
  ...subscriptionConfigSpec,
  LOG_LEVEL: logLevel('gateway'),
  ...mutualTlsConfigSpec('gateway'),
};

export type GatewayConfig = ConfigOf<typeof gatewayConfigSpec>;

/** Where the gateway reaches a subgraph, and how it proves itself there. */
export interface SubgraphEndpoint {
  /** The subgraph's GraphQL URL. */
  url: string;
  /** The key of the gateway/subgraph pair. */
  key: Buffer;
  /** The gateway's mutual TLS; undefined only where it was turned off. */
  tls: MutualTls | undefined;
}

/** Each subgraph's URL and key, by name, reached over the gateway's mutual TLS. */
export function subgraphEndpoints(
  config: GatewayConfig,
  tls: MutualTls | undefined,
): Record<SubgraphName, SubgraphEndpoint> {
  return {
    aaa: { url: config.AAA_URL, key: config.KEY_AAA, tls },
    devices: { url: config.DEVICES_URL, key: config.KEY_DEVICES, tls },
    billing: { url: config.BILLING_URL, key: config.KEY_BILLING, tls },
    audit: { url: config.AUDIT_URL, key: config.KEY_AUDIT, tls },
  };
}
