import { loadConfig, runService } from '@fleet/service-kit';
import { startAudit } from './audit-service.js';
import { auditConfigSpec } from './config.js';

runService({
  service: 'audit',
  loadConfig: () => loadConfig(auditConfigSpec, 'AUDIT_'),
  logLevel: (config) => config.LOG_LEVEL,
  start: startAudit,
});
