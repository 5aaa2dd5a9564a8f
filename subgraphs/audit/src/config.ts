import {
  integer,
  secretText,
  signingKey,
  optionalString,
  subgraphConfigSpec,
  url,
  type ConfigOf,
} from '@fleet/service-kit';

/** Besides the gateway's key, one key per service whose events audit ingests. */
export const auditConfigSpec = {
  ...subgraphConfigSpec('audit', 4104),
  KEY_AAA: signingKey('Key aaa signs the events it ships to audit with (base64url, 32 bytes).'),
  KEY_DEVICES: signingKey(
    'Key of the devices/audit pair: devices signs the events it ships with it, audit its restore calls (base64url, 32 bytes).',
  ),
  KEY_BILLING: signingKey(
    'Key of the billing/audit pair: billing signs the events it ships and its reads of the event feed with it, audit its restore calls (base64url, 32 bytes).',
  ),
  DEVICES_URL: url({
    doc: 'Base URL of the devices service, which audit asks to restore a device.',
    default: 'https://127.0.0.1:4102',
  }),
  BILLING_URL: url({
    doc: 'Base URL of the billing service, which audit asks to restore a subscription.',
    default: 'https://127.0.0.1:4103',
  }),
  CHECKPOINT_KEY: secretText({
    doc: 'Ed25519 private key that signs checkpoints (PKCS#8 PEM, or base64url of its DER); unset means a key kept in AUDIT_DATA_DIR, made on first start.',
  }),
  CHECKPOINT_RETIRED_KEYS: optionalString({
    doc: 'Public keys of earlier checkpoint keys, still published to verify older checkpoints (SPKI PEM or base64url DER, comma separated).',
  }),
  CHECKPOINT_EVERY_EVENTS: integer({
    doc: 'A checkpoint is signed once the chain has grown this many events past the last one...',
    default: 1_000,
    min: 1,
    max: 1_000_000,
  }),
  CHECKPOINT_INTERVAL_S: integer({
    doc: '...or, when it has grown at all, this many seconds after the last one.',
    default: 60,
    min: 1,
    max: 86_400,
  }),
  EXPORT_MAX_POSITIONS: integer({
    doc: 'Most positions of the log one auditExport asks for.',
    default: 10_000,
    min: 100,
    max: 1_000_000,
  }),
  RETENTION_DEFAULT_DAYS: integer({
    doc: 'Days audit keeps an event of a tenant without a retention of its own (and platform events); 0 keeps them for good. Administrators may change it (setAuditRetention).',
    default: 0,
    min: 0,
    max: 36_500,
  }),
  RETENTION_INTERVAL_S: integer({
    doc: 'How often audit seals and prunes the events past their retention.',
    default: 3_600,
    min: 10,
    max: 604_800,
  }),
  RETENTION_MAX_EVENTS_PER_SEAL: integer({
    doc: 'Most events one retention seal exports and prunes; more make more seals.',
    default: 100_000,
    min: 100,
    max: 10_000_000,
  }),
  SEAL_DIR: optionalString({
    doc: 'Where retention seals write their exports (mode 0600); unset means a seals folder in AUDIT_DATA_DIR. Keep these files: they are what was pruned.',
  }),
};

export type AuditConfig = ConfigOf<typeof auditConfigSpec>;
