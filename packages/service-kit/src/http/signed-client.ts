import { randomUUID } from 'node:crypto';
import { sign } from '@fleet/request-signing';

export interface SignedPostOptions {
  caller: string;
  audience: string;
  key: Buffer;
  /** Base URL of the service called, without a trailing slash. */
  baseUrl: string;
  path: string;
  body: string;
  /** The encoded principal on whose behalf the call is made; empty for the service itself. */
  principal?: string;
  requestId?: string;
  timeoutMs?: number;
}

/** POSTs a signed JSON request from one service to another. */
export async function signedPost(options: SignedPostOptions): Promise<Response> {
  const headers = sign({
    caller: options.caller,
    audience: options.audience,
    key: options.key,
    method: 'POST',
    path: options.path,
    body: options.body,
    principal: options.principal ?? '',
    requestId: options.requestId ?? randomUUID(),
    now: Date.now(),
  });
  return fetch(options.baseUrl + options.path, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: options.body,
    signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
  });
}
