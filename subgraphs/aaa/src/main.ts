import { loadConfig, runService } from '@fleet/service-kit';
import { startAaa } from './aaa-service.js';
import { aaaConfigSpec } from './config.js';

runService({
  service: 'aaa',
  loadConfig: () => loadConfig(aaaConfigSpec, 'AAA_'),
  logLevel: (config) => config.LOG_LEVEL,
  start: startAaa,
});
