import { randomUUID } from 'node:crypto';
import { fetch, type Response } from 'undici';
import { sign } from '@fleet/request-signing';
import type { MutualTls } from '../tls/mutual-tls.js';

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
  /** The end client's address, when the call is made for one; empty for the service itself. */
  clientAddress?: string;
  timeoutMs?: number;
  /** Aborts the call early, e.g. when the caller is stopping; the timeout applies as well. */
  signal?: AbortSignal;
  /** The caller's mutual TLS: the call goes over a connection that proves both sides. */
  tls?: MutualTls | undefined;
}

/** POSTs a signed JSON request from one service to another, over mutual TLS when it is given. */
export async function signedPost(options: SignedPostOptions): Promise<Response> {
  const timeout = AbortSignal.timeout(options.timeoutMs ?? 10_000);
  return fetch(options.baseUrl + options.path, {
    method: 'POST',
    headers: signedPostHeaders(options),
    body: options.body,
    signal: options.signal ? AbortSignal.any([timeout, options.signal]) : timeout,
    ...(options.tls ? { dispatcher: options.tls.dispatcher(options.audience) } : {}),
  });
}

/** The headers of a signed JSON POST, as `signedPost` sends them. */
export function signedPostHeaders(
  options: Pick<
    SignedPostOptions,
    'caller' | 'audience' | 'key' | 'path' | 'body' | 'principal' | 'requestId' | 'clientAddress'
  >,
): Record<string, string> {
  const headers = sign({
    caller: options.caller,
    audience: options.audience,
    key: options.key,
    method: 'POST',
    path: options.path,
    body: options.body,
    principal: options.principal ?? '',
    requestId: options.requestId ?? randomUUID(),
    clientAddress: options.clientAddress ?? '',
    now: Date.now(),
  });
  return { ...headers, 'content-type': 'application/json' };
}
