import { createHash } from 'node:crypto';
import type { OutboxEvent } from '@fleet/outbox';

/** The previous hash of the first event. */
export const GENESIS_HASH = '0'.repeat(64);

/**
 * hash = SHA-256(previous hash, canonical JSON of the event and its position): it covers
 * everything recorded about the event but the hash itself.
 */
export function chainHash(previousHash: string, position: number, event: OutboxEvent): string {
  const covered = {
    position,
    id: event.id,
    source: event.source,
    aggregateType: event.aggregateType,
    aggregateId: event.aggregateId,
    sequence: event.sequence,
    type: event.type,
    tenantId: event.tenantId,
    actor: event.actor,
    occurredAt: event.occurredAt,
    payload: event.payload,
  };
  return createHash('sha256').update(previousHash).update('\n').update(canonicalJson(covered)).digest('hex');
}

/** JSON with object keys sorted at every depth, so equal values always hash alike. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value);
}
