export {
  DEFAULT_SUPERGRAPH_PATH,
  GATEWAY_NODE_OPTIONS,
  gatewayConfigSpec,
  SUBGRAPHS,
  type GatewayConfig,
  type SubgraphEndpoint,
  type SubgraphName,
} from './config.js';
export { startGateway, type GatewayOptions } from './gateway-server.js';
export { composeSupergraph, subgraphSchemaUrl } from './supergraph/compose.js';
