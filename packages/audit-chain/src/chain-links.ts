import { createHash } from 'node:crypto';
import { canonicalJson } from '@fleet/request-signing';

/**
 * The audit log is one hash chain in ingest order. Each position holds a link:
 *
 *   digest = SHA-256(canonical JSON of the event as recorded, position and recordedAt included)
 *   tag    = SHA-256("fleet-audit-tenant\n" tenant id), or "-" for an event of no tenant
 *   hash   = SHA-256(previousHash "\n" position "\n" tag "\n" digest)
 *
 * The link keeps only the digest and the tenant's tag, so an event's body can leave the log under
 * a retention seal, or be left out of one tenant's export, while the chain through it still
 * verifies and still says whose event it was, without naming another tenant to the reader of an
 * export. All hashes are lowercase hex.
 */

/** The previous hash of the first link. */
export const GENESIS_HASH = '0'.repeat(64);

/** An event as audit recorded it: what its producer sent, and where and when audit put it. */
export interface ChainedEvent {
  position: number;
  id: string;
  source: string;
  aggregateType: string;
  aggregateId: string;
  sequence: number;
  type: string;
  tenantId: string | null;
  actor: { kind: string; id: string | null };
  occurredAt: string;
  recordedAt: string;
  payload: Record<string, unknown>;
}

export interface ChainLink {
  position: number;
  tenantTag: string;
  previousHash: string;
  digest: string;
  hash: string;
}

export function eventDigest(event: ChainedEvent): string {
  const covered = {
    position: event.position,
    id: event.id,
    source: event.source,
    aggregateType: event.aggregateType,
    aggregateId: event.aggregateId,
    sequence: event.sequence,
    type: event.type,
    tenantId: event.tenantId,
    actor: { kind: event.actor.kind, id: event.actor.id },
    occurredAt: event.occurredAt,
    recordedAt: event.recordedAt,
    payload: event.payload,
  };
  return createHash('sha256').update(canonicalJson(covered)).digest('hex');
}

/** The one-way tag of a tenant in the links; "-" for events of no tenant. */
export function tenantTag(tenantId: string | null): string {
  if (tenantId === null) return NO_TENANT_TAG;
  return createHash('sha256').update(`fleet-audit-tenant\n${tenantId}`).digest('hex');
}

export const NO_TENANT_TAG = '-';

export function linkHash(previousHash: string, position: number, tag: string, digest: string): string {
  return createHash('sha256').update(`${previousHash}\n${position}\n${tag}\n${digest}`).digest('hex');
}

/** The link of an event appended after `previousHash`. */
export function linkOf(previousHash: string, event: ChainedEvent): ChainLink {
  const digest = eventDigest(event);
  return {
    position: event.position,
    tenantTag: tenantTag(event.tenantId),
    previousHash,
    digest,
    hash: linkHash(previousHash, event.position, tenantTag(event.tenantId), digest),
  };
}

/**
 * Why a link does not hold, given the hash the chain reached before it; undefined when it holds.
 * `digest` is the event's recomputed digest when its body is at hand.
 */
export function linkProblem(
  link: ChainLink,
  expected: { position: number; previousHash: string },
  digest?: string,
): string | undefined {
  if (link.position !== expected.position) return `position ${expected.position} is missing`;
  if (link.previousHash !== expected.previousHash) return 'its previous hash is not the hash before it';
  if (digest !== undefined && digest !== link.digest) return 'the event does not match its digest';
  if (linkHash(link.previousHash, link.position, link.tenantTag, link.digest) !== link.hash)
    return 'its hash does not match';
  return undefined;
}
