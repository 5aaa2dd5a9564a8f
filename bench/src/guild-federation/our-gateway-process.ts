import { decodeKey } from '@fleet/request-signing';
import { gatewayConfigSpec, startGateway, type SubgraphEndpoint } from '@fleet/gateway';
import { loadConfig, runService } from '@fleet/service-kit';
import { GUILD_SUBGRAPHS } from './guild-schemas.js';

/**
 * Our gateway in a process of its own, as its main runs it (configuration from GATEWAY_*), with
 * the Guild benchmark's four subgraphs beside the platform's: at GUILD_SUBGRAPHS_URL
 * (`…/accounts`, …), each call signed with its key from GUILD_KEYS (JSON, subgraph to base64url),
 * in plain HTTP as the peers call them.
 */
const keys = JSON.parse(process.env.GUILD_KEYS ?? '{}') as Record<string, string>;
const extraSubgraphs: Record<string, SubgraphEndpoint> = {};
for (const name of GUILD_SUBGRAPHS) {
  const key = decodeKey(keys[name] ?? '');
  if (!Buffer.isBuffer(key)) throw new Error(`GUILD_KEYS.${name}: ${key.error}`);
  extraSubgraphs[name] = { url: `${process.env.GUILD_SUBGRAPHS_URL}/${name}`, key, tls: undefined };
}

runService({
  service: 'gateway',
  loadConfig: () => loadConfig(gatewayConfigSpec, 'GATEWAY_'),
  logLevel: (config) => config.LOG_LEVEL,
  start: (config, logger) => startGateway(config, logger, { extraSubgraphs }),
});
