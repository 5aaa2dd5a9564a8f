import type { Response } from 'undici';
import { signedPost, type MutualTls } from '@fleet/service-kit';

/** Where the gateway reaches aaa's internal endpoints, and the key it signs those calls with. */
export interface AaaEndpoint {
  /** Scheme, host and port of aaa, e.g. `http://127.0.0.1:4101`. */
  origin: string;
  /** The gateway/aaa pair's key: the same one the gateway's GraphQL calls to aaa are signed with. */
  key: Buffer;
  /** The gateway's mutual TLS; undefined only where it was turned off. */
  tls: MutualTls | undefined;
}

/** The origin of aaa's GraphQL URL: its internal endpoints live beside /graphql. */
export function aaaEndpoint(graphqlUrl: string, key: Buffer, tls: MutualTls | undefined): AaaEndpoint {
  return { origin: new URL(graphqlUrl).origin, key, tls };
}

/**
 * POSTs JSON to one of aaa's internal endpoints, signed by the gateway for the audience aaa
 * exactly like its GraphQL calls, with no principal (the call is the gateway's own).
 */
export function postToAaa(
  aaa: AaaEndpoint,
  path: string,
  body: unknown,
  options: { timeoutMs: number; signal?: AbortSignal },
): Promise<Response> {
  return signedPost({
    caller: 'gateway',
    audience: 'aaa',
    key: aaa.key,
    baseUrl: aaa.origin,
    path,
    body: JSON.stringify(body),
    timeoutMs: options.timeoutMs,
    tls: aaa.tls,
    ...(options.signal ? { signal: options.signal } : {}),
  });
}

/** Reads a 200 JSON answer; any other status, or a body that is not JSON, is an error. */
export async function jsonAnswer(response: Response, what: string): Promise<unknown> {
  if (response.status !== 200) {
    await response.body?.cancel();
    throw new Error(`aaa answered ${response.status} to ${what}`);
  }
  try {
    return await response.json();
  } catch {
    throw new Error(`aaa answered ${what} with a body that is not JSON`);
  }
}
