import { decodeKey } from '@fleet/request-signing';
import { gatewayConfigSpec, startGateway, type SubgraphEndpoint } from '@fleet/gateway';
import { createLogger, loadConfig, MutualTls, runService } from '@fleet/service-kit';
import { GUILD_SUBGRAPHS } from './guild-schemas.js';

/**
 * Our gateway in a process of its own, as its main runs it (configuration from GATEWAY_*), with
 * the Guild benchmark's four subgraphs beside the platform's: at GUILD_SUBGRAPH_URLS (JSON,
 * subgraph to URL), each call signed with its key from GUILD_KEYS (JSON, subgraph to base64url).
 * In plain HTTP as the peers call them, or with GUILD_MTLS=true over the gateway's own mutual
 * TLS (its GATEWAY_MTLS_* certificate), each subgraph's certificate checked to name it.
 */
const keys = JSON.parse(process.env.GUILD_KEYS ?? '{}') as Record<string, string>;
const urls = JSON.parse(process.env.GUILD_SUBGRAPH_URLS ?? '{}') as Record<string, string>;
const tls =
  process.env.GUILD_MTLS === 'true'
    ? new MutualTls({
        service: 'gateway',
        certFile: process.env.GATEWAY_MTLS_CERT_FILE ?? '',
        keyFile: process.env.GATEWAY_MTLS_KEY_FILE ?? '',
        caFile: process.env.GATEWAY_MTLS_CA_FILE ?? '',
        reloadMs: 60_000,
        logger: createLogger({ service: 'gateway', level: 'warn' }),
      })
    : undefined;
const extraSubgraphs: Record<string, SubgraphEndpoint> = {};
for (const name of GUILD_SUBGRAPHS) {
  const key = decodeKey(keys[name] ?? '');
  if (!Buffer.isBuffer(key)) throw new Error(`GUILD_KEYS.${name}: ${key.error}`);
  const url = urls[name];
  if (!url) throw new Error(`GUILD_SUBGRAPH_URLS has no ${name}`);
  extraSubgraphs[name] = { url, key, tls };
}

runService({
  service: 'gateway',
  loadConfig: () => loadConfig(gatewayConfigSpec, 'GATEWAY_'),
  logLevel: (config) => config.LOG_LEVEL,
  start: (config, logger) => startGateway(config, logger, { extraSubgraphs }),
});
