import { GATEWAY_NODE_OPTIONS } from '@fleet/gateway';
import { startNodeProcess, type NodeProcess } from '../node-process.js';

/**
 * Our gateway's request merging ('true' / 'false'): identical queries in flight at once from one
 * caller share one execution, each still checked and charged in full.
 */
export const GATEWAY_REQUEST_MERGING = 'GATEWAY_REQUEST_MERGING';

/** The CPU every gateway runs on; the subgraphs, the platform and the load share the other. */
export const GATEWAY_CPU = '1';

export const GATEWAY_VARIANTS = [
  'apollo-gateway',
  'hive-gateway',
  'hive-gateway-no-dedup',
  'ours',
  'ours-merged',
  'ours-tls',
] as const;
export type GatewayVariant = (typeof GATEWAY_VARIANTS)[number];

export const VARIANT_LABELS: Record<GatewayVariant, string> = {
  'apollo-gateway': '@apollo/gateway 2.14.4 + @apollo/server (defaults)',
  'hive-gateway': 'Hive Gateway 2.15.1, inbound dedup on, JIT (as the reference runs it)',
  'hive-gateway-no-dedup': 'Hive Gateway 2.15.1, inbound dedup off, JIT',
  ours: 'ours, every protection on, authenticated, request merging off',
  'ours-merged': 'ours, every protection on, authenticated, request merging on',
  'ours-tls': 'ours, as the first row, over HTTPS and mutual TLS to the subgraphs',
};

export interface VariantContext {
  /** The supergraph the peers serve (plain, pointing at the unsigned port). */
  plainSupergraph: string;
  /** Ours: the same with `@authenticated` root fields. */
  authenticatedSupergraph: string;
  /** Where our gateway reaches the subgraphs that check signatures, by subgraph: plain HTTP. */
  signedSubgraphUrls: Record<string, string>;
  /** The same over mutual TLS, a port per subgraph. */
  tlsSubgraphUrls: Record<string, string>;
  /** The subgraphs' keys (JSON, subgraph to base64url). */
  guildKeys: string;
  /** The platform's variables for our gateway (see startPlatform). */
  platformEnv: Record<string, string>;
  /** A folder for CPU profiles of our gateway, if asked for. */
  cpuProfileDir?: string;
}

/**
 * Every budget of ours out of reach of one client sending as fast as it can: each request still
 * spends its cost estimate (102,927 points for the Guild's query) from its user's and tenant's
 * budgets and one request from its address's. The largest budget a tier may have (999,999,999
 * points) is about 9,700 such requests, hence a window of one second.
 */
const POINTS = '999999999';
const BUDGETS = {
  GATEWAY_RATE_LIMIT_WINDOW_S: '1',
  GATEWAY_RATE_LIMIT_TIERS: `bench=${POINTS}/${POINTS}/${POINTS}`,
  GATEWAY_RATE_LIMIT_DEFAULT_TIER: 'bench',
  GATEWAY_RATE_LIMIT_ADDRESS_REQUESTS: '100000000',
};

/**
 * The operation limits raised for the Guild's query, and only as far as it needs: with the
 * default size assumed per list (50) its cost estimate is 57,264,487, beyond the highest ceiling
 * configurable (10,000,000); with 10 per list it is 102,927, within a ceiling of 200,000. Depth
 * (8), aliases, root fields, directives and tokens stay at their defaults.
 */
export const RAISED_LIMITS = {
  GATEWAY_DEFAULT_LIST_SIZE: '10',
  GATEWAY_MAX_COST: '200000',
};

const LOOPBACK_GUARD = new URL('./loopback-guard.js', import.meta.url);

/** Starts one gateway in its own process, pinned to GATEWAY_CPU, behind the loopback guard. */
export function startVariant(variant: GatewayVariant, context: VariantContext): Promise<NodeProcess> {
  const guard = ['--import', LOOPBACK_GUARD.href];
  switch (variant) {
    case 'apollo-gateway':
      return startNodeProcess({
        entry: new URL('./apollo-gateway-process.js', import.meta.url),
        env: { SUPERGRAPH_PATH: context.plainSupergraph, APOLLO_TELEMETRY_DISABLED: 'true' },
        nodeFlags: guard,
        cpus: GATEWAY_CPU,
      });
    case 'hive-gateway':
    case 'hive-gateway-no-dedup':
      return startNodeProcess({
        entry: new URL('./hive-gateway-process.js', import.meta.url),
        env: {
          SUPERGRAPH_PATH: context.plainSupergraph,
          NODE_ENV: 'production',
          HIVE_INBOUND_DEDUPLICATION: variant === 'hive-gateway' ? 'on' : 'off',
        },
        nodeFlags: guard,
        cpus: GATEWAY_CPU,
      });
    case 'ours':
    case 'ours-merged':
    case 'ours-tls': {
      const tls = variant === 'ours-tls';
      return startNodeProcess({
        entry: new URL('./our-gateway-process.js', import.meta.url),
        env: {
          ...context.platformEnv,
          APOLLO_TELEMETRY_DISABLED: 'true',
          GATEWAY_HOST: '127.0.0.1',
          GATEWAY_PORT: '0',
          // Its edge certificate is the platform's (GATEWAY_TLS_* of platformEnv).
          GATEWAY_PLAINTEXT_HTTP: tls ? 'false' : 'true',
          // Its default level: one access line per request, as in production.
          GATEWAY_LOG_LEVEL: 'info',
          GATEWAY_SUPERGRAPH_PATH: context.authenticatedSupergraph,
          ...BUDGETS,
          ...RAISED_LIMITS,
          [GATEWAY_REQUEST_MERGING]: variant === 'ours-merged' ? 'true' : 'false',
          GUILD_KEYS: context.guildKeys,
          GUILD_SUBGRAPH_URLS: JSON.stringify(tls ? context.tlsSubgraphUrls : context.signedSubgraphUrls),
          GUILD_MTLS: String(tls),
        },
        nodeFlags: [
          // Node's options as npm start and the container give the gateway's process.
          ...GATEWAY_NODE_OPTIONS.split(' '),
          ...guard,
          ...(context.cpuProfileDir ? ['--cpu-prof', '--cpu-prof-dir', context.cpuProfileDir] : []),
        ],
        cpus: GATEWAY_CPU,
      });
    }
  }
}
