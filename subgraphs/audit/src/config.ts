import { signingKey, subgraphConfigSpec, type ConfigOf } from '@fleet/service-kit';

/** Besides the gateway's key, one key per service whose events audit ingests. */
export const auditConfigSpec = {
  ...subgraphConfigSpec('audit', 4104),
  KEY_AAA: signingKey('Key aaa signs the events it ships to audit with (base64url, 32 bytes).'),
  KEY_DEVICES: signingKey('Key devices signs the events it ships to audit with (base64url, 32 bytes).'),
  KEY_BILLING: signingKey('Key billing signs the events it ships to audit with (base64url, 32 bytes).'),
};

export type AuditConfig = ConfigOf<typeof auditConfigSpec>;
