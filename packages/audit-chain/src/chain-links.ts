import { hash } from 'node:crypto';
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

/**
 * SHA-256 of the canonical JSON of everything recorded about the event (the text equals
 * canonicalJson of the whole event, which a test checks).
 */
export function eventDigest(event: ChainedEvent): string {
  return digestWithPayloadText(event, canonicalJson(event.payload));
}

/**
 * The same digest, given the payload's canonical JSON text as audit stores it: verifying the
 * log then hashes what it reads, parsing nothing. The envelope's keys are fixed, so they are
 * written here in their sorted order.
 */
export function digestWithPayloadText(event: Omit<ChainedEvent, 'payload'>, payloadText: string): string {
  const text =
    `{"actor":{"id":${JSON.stringify(event.actor.id)},"kind":${JSON.stringify(event.actor.kind)}}` +
    `,"aggregateId":${JSON.stringify(event.aggregateId)}` +
    `,"aggregateType":${JSON.stringify(event.aggregateType)}` +
    `,"id":${JSON.stringify(event.id)}` +
    `,"occurredAt":${JSON.stringify(event.occurredAt)}` +
    `,"payload":${payloadText}` +
    `,"position":${JSON.stringify(event.position)}` +
    `,"recordedAt":${JSON.stringify(event.recordedAt)}` +
    `,"sequence":${JSON.stringify(event.sequence)}` +
    `,"source":${JSON.stringify(event.source)}` +
    `,"tenantId":${JSON.stringify(event.tenantId)}` +
    `,"type":${JSON.stringify(event.type)}}`;
  return hash('sha256', text);
}

/** The one-way tag of a tenant in the links; "-" for events of no tenant. */
export function tenantTag(tenantId: string | null): string {
  if (tenantId === null) return NO_TENANT_TAG;
  return hash('sha256', `fleet-audit-tenant\n${tenantId}`);
}

export const NO_TENANT_TAG = '-';

export function linkHash(previousHash: string, position: number, tag: string, digest: string): string {
  return hash('sha256', `${previousHash}\n${position}\n${tag}\n${digest}`);
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
