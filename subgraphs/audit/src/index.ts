export { auditConfigSpec, type AuditConfig } from './config.js';
export { startAudit } from './audit-service.js';
// The chain's only writer and the store's schema, for tools that fill a log straight in the
// database the way ingest does (the audit benchmark seeds a million events with them).
export { ChainWriter, type AppendResult, type ChainWriterOptions } from './chain/chain-writer.js';
export { CheckpointSigner } from './chain/checkpoint-signer.js';
export { migrations as auditMigrations } from './database/migrations.js';
export type { AuditDatabase } from './database/schema.js';
