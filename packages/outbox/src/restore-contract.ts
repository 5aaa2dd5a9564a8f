/**
 * Restoring an entity: how audit asks the service that owns an entity to bring it back to an
 * earlier state. Audit folds the state from the entity's events (each event's payload is the
 * entity's full state after its change); the owner makes the change, as a new change with its
 * own event, so history is never rewritten.
 *
 * `POST /restore` on the owning service, signed with the key of the audit/owner pair (the key
 * the owner ships its outbox to audit with), caller `audit`, audience the owner's name, carrying
 * the principal of the person who asked for the restore. The owner decides with that principal,
 * as for any change it makes: audit's own checks come first, never instead.
 *
 * Body: {@link RestoreRequest}. Answers:
 * - 200 {@link RestoreResult}: the new event's id and the entity's state after the restore;
 * - 400 `BAD_USER_INPUT`: a malformed body, an aggregate type the owner does not restore, or a
 *   state the owner refuses (the message names the problem); nothing changed;
 * - 403 `FORBIDDEN`: the principal may not make this change;
 * - 404 `NOT_FOUND`: no such entity, or one the principal may not see;
 * - 409 `CONFLICT`: the entity cannot take that state now (e.g. it was removed, or the state
 *   clashes with another entity);
 * - 401: a bad signature, or a caller other than audit.
 *
 * Refusals have the shape of GraphQL errors: `{ errors: [{ message, extensions: { code } }] }`.
 * Each owner documents which part of an entity's state it restores.
 */

export const RESTORE_PATH = '/restore';

/** The only service that may ask for a restore. */
export const RESTORE_CALLER = 'audit';

export interface RestoreRequest {
  /** The entity's type, as its events name it (`device`, `subscription`). */
  aggregateType: string;
  aggregateId: string;
  /** The state to restore: the entity's state as of `asOf`, in the shape of its events' payloads. */
  state: Record<string, unknown>;
  /** The moment the state is taken from, ISO 8601. */
  asOf: string;
  /** The sequence of the entity's event the state comes from (its history counts from 1). */
  sequence: number;
}

export interface RestoreResult {
  /** The id of the event that records the restore. */
  eventId: string;
  /** The entity's state after the restore, as its events record it. */
  state: Record<string, unknown>;
}

const MAX_ID_LENGTH = 200;
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

/** Checks a restore request's body; the error names the first bad field. */
export function validateRestoreRequest(value: unknown): { request: RestoreRequest } | { error: string } {
  if (!isRecord(value)) return { error: 'The body must be a JSON object' };
  const { aggregateType, aggregateId, state, asOf, sequence } = value;
  if (!isId(aggregateType)) return { error: idError('aggregateType') };
  if (!isId(aggregateId)) return { error: idError('aggregateId') };
  if (!isRecord(state)) return { error: 'state must be a JSON object: the state to restore' };
  if (typeof asOf !== 'string' || !ISO_INSTANT.test(asOf) || Number.isNaN(Date.parse(asOf)))
    return { error: 'asOf must be an ISO 8601 date and time, e.g. 2026-01-31T12:00:00Z' };
  if (typeof sequence !== 'number' || !Number.isSafeInteger(sequence) || sequence < 1)
    return {
      error: 'sequence must be a whole number from 1: the sequence of the event the state comes from',
    };
  return { request: { aggregateType, aggregateId, state, asOf, sequence } };
}

/** Checks an owner's answer to a restore. */
export function validateRestoreResult(value: unknown): { result: RestoreResult } | { error: string } {
  if (!isRecord(value)) return { error: 'The answer must be a JSON object' };
  if (typeof value.eventId !== 'string' || value.eventId === '')
    return { error: 'eventId must be the id of the recorded event' };
  if (!isRecord(value.state)) return { error: 'state must be a JSON object' };
  return { result: { eventId: value.eventId, state: value.state } };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isId(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_ID_LENGTH;
}

function idError(field: string): string {
  return `${field} must be a string of 1 to ${MAX_ID_LENGTH} characters`;
}
