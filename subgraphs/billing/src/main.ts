import { loadConfig, runService } from '@fleet/service-kit';
import { startBilling } from './billing-service.js';
import { billingConfigSpec } from './config.js';

runService({
  service: 'billing',
  loadConfig: () => loadConfig(billingConfigSpec, 'BILLING_'),
  logLevel: (config) => config.LOG_LEVEL,
  start: startBilling,
});
