import { signedPost } from '@fleet/service-kit';
import type { SubgraphEndpoint, SubgraphName } from '../config.js';

export type SubgraphStatus = 'ok' | 'unreachable' | 'refused';

/**
 * Ready means every subgraph answers a signed call with 200: it is up, and it accepts this
 * gateway's key. A subgraph that answers 401 holds another key; that is reported as refused.
 */
export async function checkSubgraphs(
  endpoints: Record<SubgraphName, SubgraphEndpoint>,
): Promise<Record<SubgraphName, SubgraphStatus>> {
  const entries = await Promise.all(
    Object.entries(endpoints).map(async ([name, { url, key, tls }]) => {
      const target = new URL(url);
      try {
        const response = await signedPost({
          caller: 'gateway',
          audience: name,
          key,
          baseUrl: target.origin,
          path: target.pathname,
          body: JSON.stringify({ query: '{ __typename }' }),
          timeoutMs: 3_000,
          tls,
        });
        await response.body?.cancel();
        return [name, response.ok ? 'ok' : 'refused'] as const;
      } catch {
        return [name, 'unreachable'] as const;
      }
    }),
  );
  return Object.fromEntries(entries) as Record<SubgraphName, SubgraphStatus>;
}
