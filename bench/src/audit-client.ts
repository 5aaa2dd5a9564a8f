import type { OutboxEvent } from '@fleet/outbox';
import { encodePrincipal, signedPost, type Principal } from '@fleet/service-kit';
import type { Producer } from './audit-fleet.js';
import type { BenchTls } from './bench-tls.js';

/**
 * Where the audit subgraph listens, the key of one of its pairs, and the certificates of the
 * services that call it (a call goes over mutual TLS with its caller's own).
 */
export interface AuditTarget {
  url: string;
  key: Buffer;
  pki: BenchTls;
}

/**
 * A GraphQL call straight to the audit subgraph, as the gateway makes its calls there (over mutual
 * TLS with its certificate, signed as caller `gateway` with the gateway/audit key, the principal
 * it established); fails loudly on any error in the answer.
 */
export async function auditGraphql<T>(
  target: AuditTarget,
  principal: Principal,
  query: string,
  variables: Record<string, unknown> = {},
  timeoutMs = 10_000,
): Promise<T> {
  const response = await signedPost({
    caller: 'gateway',
    audience: 'audit',
    key: target.key,
    baseUrl: target.url,
    tls: target.pki.tls('gateway'),
    path: '/graphql',
    body: JSON.stringify({ query, variables }),
    principal: encodePrincipal(principal),
    timeoutMs,
  });
  const text = await response.text();
  const answer = JSON.parse(text) as { data?: T; errors?: { message: string }[] };
  if (!response.ok || answer.errors?.length || !answer.data)
    throw new Error(`audit answered ${response.status}: ${text.slice(0, 300)}`);
  return answer.data;
}

/** A batch as a producer's outbox relay ships it: the body audit's /ingest reads. */
export const ingestBody = (events: readonly OutboxEvent[]): string => JSON.stringify({ events });

/**
 * POSTs one batch to /ingest with the producer's own certificate and key, as its outbox relay
 * does, and checks that audit appended every event of it.
 */
export async function ingest(
  target: AuditTarget,
  producer: Producer,
  body: string,
  events: number,
): Promise<void> {
  const response = await signedPost({
    caller: producer,
    audience: 'audit',
    key: target.key,
    baseUrl: target.url,
    tls: target.pki.tls(producer),
    path: '/ingest',
    body,
    timeoutMs: 60_000,
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`audit refused a batch of ${producer}: ${response.status} ${text}`);
  const result = JSON.parse(text) as { appended: number; duplicates: number };
  if (result.appended !== events)
    throw new Error(
      `audit appended ${result.appended} of ${events} events (${result.duplicates} duplicates)`,
    );
}
