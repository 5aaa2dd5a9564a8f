export { eventFromRow, type EventActor, type EventRow, type IngestBody, type OutboxEvent } from './event.js';
export {
  OUTBOX_MIGRATION_NAME,
  outboxMigration,
  outboxTablesOf,
  type OutboxTables,
} from './outbox-schema.js';
export { actorOf, recordEvent, type NewEvent } from './record-event.js';
export { createOutboxRelay, OutboxRelay, type OutboxRelayOptions } from './outbox-relay.js';
