import type { OutboxEvent } from '@fleet/outbox';
import { encodePrincipal, signedPost, type Principal } from '@fleet/service-kit';

/** Where the audit subgraph listens, and the key of one of its pairs. */
export interface AuditTarget {
  url: string;
  key: Buffer;
}

/**
 * A GraphQL call straight to the audit subgraph, signed as the gateway signs its calls there
 * (caller `gateway`, the gateway/audit key, the principal it established); fails loudly on any
 * error in the answer.
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
 * POSTs one batch to /ingest signed with the producer's own key, as its outbox relay does, and
 * checks that audit appended every event of it.
 */
export async function ingest(
  target: AuditTarget,
  producer: string,
  body: string,
  events: number,
): Promise<void> {
  const response = await signedPost({
    caller: producer,
    audience: 'audit',
    key: target.key,
    baseUrl: target.url,
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
