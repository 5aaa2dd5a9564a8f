import { loadConfig, runService } from '@fleet/service-kit';
import { gatewayConfigSpec } from './config.js';
import { startGateway } from './gateway-server.js';

runService({
  service: 'gateway',
  loadConfig: () => loadConfig(gatewayConfigSpec, 'GATEWAY_'),
  logLevel: (config) => config.LOG_LEVEL,
  start: startGateway,
});
