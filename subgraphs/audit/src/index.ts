export { auditConfigSpec, type AuditConfig } from './config.js';
export { startAudit } from './audit-service.js';
