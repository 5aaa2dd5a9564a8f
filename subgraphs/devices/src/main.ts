import { loadConfig, runService } from '@fleet/service-kit';
import { devicesConfigSpec } from './config.js';
import { startDevices } from './devices-service.js';

runService({
  service: 'devices',
  loadConfig: () => loadConfig(devicesConfigSpec, 'DEVICES_'),
  logLevel: (config) => config.LOG_LEVEL,
  start: startDevices,
});
