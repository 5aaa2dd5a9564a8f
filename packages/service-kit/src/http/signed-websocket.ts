import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { sign } from '@fleet/request-signing';
import type { MutualTls } from '../tls/mutual-tls.js';

export interface SignedWebSocketOptions {
  /** The calling service, e.g. `gateway`. */
  caller: string;
  /** The service called: the audience of the signature. */
  audience: string;
  /** The key of the caller/callee pair. */
  key: Buffer;
  /** The path of the upgrade, as sent (`/graphql`). */
  path: string;
  /** The caller's mutual TLS: each connection proves both sides. */
  tls?: MutualTls | undefined;
}

/**
 * A WebSocket class whose every connection (first or again) opens with an upgrade signed like
 * any call between services, with no principal: the connection is the caller's own, and each
 * subscription on it carries its own signed principal. For graphql-ws's `webSocketImpl`.
 */
export function signedWebSocket(
  options: SignedWebSocketOptions,
): new (address: string, protocols?: string | string[]) => WebSocket {
  return class SignedWebSocket extends WebSocket {
    constructor(address: string, protocols?: string | string[]) {
      const headers = sign({
        caller: options.caller,
        audience: options.audience,
        key: options.key,
        method: 'GET',
        path: options.path,
        body: '',
        principal: '',
        requestId: randomUUID(),
        now: Date.now(),
      });
      super(address, protocols, {
        headers,
        perMessageDeflate: false,
        ...options.tls?.clientOptions(options.audience),
      });
    }
  };
}
