export { eventFromRow, type EventActor, type EventRow, type IngestBody, type OutboxEvent } from './event.js';
export {
  OUTBOX_MIGRATION_NAME,
  outboxMigration,
  outboxTablesOf,
  type OutboxTables,
} from './outbox-schema.js';
export { actorOf, lastSequenceOf, recordEvent, type NewEvent } from './record-event.js';
export { createOutboxRelay, OutboxRelay, type OutboxRelayOptions } from './outbox-relay.js';
export {
  RESTORE_CALLER,
  RESTORE_PATH,
  validateRestoreRequest,
  validateRestoreResult,
  type RestoreRequest,
  type RestoreResult,
} from './restore-contract.js';
export { restoreRoute, type RestoreHandler } from './restore-route.js';
export { requestRestore, type RequestRestoreOptions, type RestoreAnswer } from './request-restore.js';
