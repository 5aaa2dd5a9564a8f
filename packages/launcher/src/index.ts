export {
  startFederation,
  SUBGRAPH_NAMES,
  type Federation,
  type FederationOptions,
  type Replica,
  type ServiceName,
  type SubgraphName,
} from './federation.js';
export type { InitialAdmin } from '@fleet/aaa';
export { KEY_PAIRS, loadOrCreateSecrets, type Secrets } from './secrets.js';
export { configurationTable, CONFIGURATION } from './config-table.js';
export { forEachBounded } from './bounded-concurrency.js';
export { callGateway, GatewayError } from './demo/gateway-client.js';
export { trustGatewayCertificate } from './gateway-trust.js';
export { CertificateDirectory } from './certificates.js';
