import type { EventActor, OutboxEvent } from '@fleet/outbox';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const NAME = /^[a-z][a-z0-9_.-]{0,63}$/;
const ACTOR_KINDS = new Set(['anonymous', 'user', 'apiKey', 'system']);
const MAX_EVENTS = 1_000;

/**
 * Checks an ingest batch from `caller`. The whole batch is refused, naming the first bad field,
 * when any event is malformed or claims another source: a producer writes only its own events.
 */
export function validateEvents(body: unknown, caller: string): { events: OutboxEvent[] } | { error: string } {
  if (!isRecord(body) || !Array.isArray(body.events)) return { error: 'body must be {"events": [...]}' };
  if (body.events.length > MAX_EVENTS) return { error: `at most ${MAX_EVENTS} events per batch` };
  const events: OutboxEvent[] = [];
  for (const [index, event] of body.events.entries()) {
    const problem = problemOf(event, caller);
    if (problem) return { error: `events[${index}]: ${problem}` };
    const valid = event as OutboxEvent;
    // Only the known fields go on: the hash chain covers exactly what is stored.
    events.push({
      id: valid.id.toLowerCase(),
      source: valid.source,
      aggregateType: valid.aggregateType,
      aggregateId: valid.aggregateId,
      sequence: valid.sequence,
      type: valid.type,
      tenantId: valid.tenantId,
      actor: { kind: valid.actor.kind, id: valid.actor.id },
      occurredAt: new Date(valid.occurredAt).toISOString(),
      payload: valid.payload,
    });
  }
  return { events };
}

function problemOf(event: unknown, caller: string): string | undefined {
  if (!isRecord(event)) return 'must be an object';
  if (typeof event.id !== 'string' || !UUID.test(event.id)) return 'id must be a UUID';
  if (event.source !== caller) return `source must be "${caller}", the signing service`;
  if (typeof event.aggregateType !== 'string' || !NAME.test(event.aggregateType))
    return 'aggregateType is invalid';
  if (!isId(event.aggregateId)) return 'aggregateId is invalid';
  if (!Number.isSafeInteger(event.sequence) || (event.sequence as number) < 1) {
    return 'sequence must be a positive integer';
  }
  if (typeof event.type !== 'string' || !NAME.test(event.type)) return 'type is invalid';
  if (event.tenantId !== null && !isId(event.tenantId)) return 'tenantId is invalid';
  if (!isActor(event.actor)) return 'actor is invalid';
  if (typeof event.occurredAt !== 'string' || Number.isNaN(Date.parse(event.occurredAt))) {
    return 'occurredAt must be an ISO 8601 time';
  }
  const year = new Date(event.occurredAt).getUTCFullYear();
  if (year < 1970 || year > 9999) return 'occurredAt must be between the years 1970 and 9999';
  if (!isRecord(event.payload)) return 'payload must be an object';
  return undefined;
}

function isActor(value: unknown): value is EventActor {
  return (
    isRecord(value) &&
    typeof value.kind === 'string' &&
    ACTOR_KINDS.has(value.kind) &&
    (value.id === null || isId(value.id))
  );
}

function isId(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= 128;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
