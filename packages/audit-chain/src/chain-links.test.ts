import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '@fleet/request-signing';
import {
  eventDigest,
  GENESIS_HASH,
  linkHash,
  linkOf,
  linkProblem,
  tenantTag,
  type ChainedEvent,
} from './chain-links.js';

const event: ChainedEvent = {
  position: 7,
  id: '5b0a3f4e-51a2-4c7e-9a39-2b0f3c1e8d11',
  source: 'devices',
  aggregateType: 'device',
  aggregateId: 'd1',
  sequence: 3,
  type: 'device.updated',
  tenantId: 't1',
  actor: { kind: 'user', id: 'u1' },
  occurredAt: '2026-12-01T10:00:00.000Z',
  recordedAt: '2026-12-01T10:00:01.000Z',
  payload: { name: 'r1', tags: ['b', 'a'], tls: { mode: 'pinned', 10: 'x' }, note: '"quoted"\n' },
};

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

describe('the chain links', () => {
  it('digests exactly the canonical JSON of everything recorded about the event', () => {
    const { position, ...rest } = event;
    expect(eventDigest(event)).toBe(sha256(canonicalJson({ ...rest, position })));
    expect(eventDigest({ ...event, tenantId: null, actor: { kind: 'system', id: null } })).toBe(
      sha256(canonicalJson({ ...event, tenantId: null, actor: { kind: 'system', id: null } })),
    );
  });

  it('changes the digest with any recorded field, and not with the order of keys', () => {
    const digest = eventDigest(event);
    const reordered = {
      ...event,
      payload: { note: '"quoted"\n', tls: { 10: 'x', mode: 'pinned' }, tags: ['b', 'a'], name: 'r1' },
    };
    expect(eventDigest(reordered)).toBe(digest);
    for (const changed of [
      { ...event, position: 8 },
      { ...event, sequence: 4 },
      { ...event, tenantId: 't2' },
      { ...event, actor: { kind: 'user', id: 'u2' } },
      { ...event, recordedAt: '2026-12-01T10:00:02.000Z' },
      { ...event, payload: { ...event.payload, tags: ['a', 'b'] } },
    ]) {
      expect(eventDigest(changed)).not.toBe(digest);
    }
  });

  it('links each event to the hash before it, its position and its tenant', () => {
    const link = linkOf(GENESIS_HASH, event);
    expect(link).toEqual({
      position: 7,
      tenantTag: sha256('fleet-audit-tenant\nt1'),
      previousHash: GENESIS_HASH,
      digest: eventDigest(event),
      hash: sha256(`${GENESIS_HASH}\n7\n${tenantTag('t1')}\n${eventDigest(event)}`),
    });
    expect(tenantTag(null)).toBe('-');
    expect(
      linkProblem(link, { position: 7, previousHash: GENESIS_HASH }, eventDigest(event)),
    ).toBeUndefined();
    expect(linkProblem(link, { position: 8, previousHash: GENESIS_HASH })).toMatch(/missing/);
    expect(linkProblem(link, { position: 7, previousHash: 'a'.repeat(64) })).toMatch(/previous hash/);
    expect(linkProblem(link, { position: 7, previousHash: GENESIS_HASH }, 'b'.repeat(64))).toMatch(/digest/);
    expect(
      linkProblem({ ...link, tenantTag: tenantTag('t2') }, { position: 7, previousHash: GENESIS_HASH }),
    ).toMatch(/hash does not match/);
    expect(linkHash(GENESIS_HASH, 7, '-', link.digest)).not.toBe(link.hash);
  });
});
