import type { ConnectionOptions } from 'node:tls';
import { PINNED_FINGERPRINT } from './node-routeros-fixes.js';

/**
 * How to secure the API connection to a router.
 * - `verify`: the router's certificate must chain to `ca` and name the host (or `servername`).
 * - `pinned`: the router's certificate must have this SHA-256 fingerprint (self-signed is fine).
 * - `anonymous-dh`: RouterOS's API-SSL without a certificate. Encrypted but unauthenticated, so
 *   open to a man in the middle: only as an explicit opt-in.
 */
export type RouterTls =
  | { mode: 'verify'; ca: string | string[]; servername?: string }
  | { mode: 'pinned'; fingerprint256: string }
  | { mode: 'anonymous-dh' };

const FINGERPRINT = /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/i;

export function tlsOptions(tls: RouterTls): ConnectionOptions & Record<string, unknown> {
  const base = { minVersion: 'TLSv1.2' as const };
  switch (tls.mode) {
    case 'verify':
      return {
        ...base,
        ca: tls.ca,
        rejectUnauthorized: true,
        ...(tls.servername ? { servername: tls.servername } : {}),
      };
    case 'pinned':
      if (!FINGERPRINT.test(tls.fingerprint256)) {
        throw new TypeError('a pinned fingerprint is 32 hex bytes separated by colons (SHA-256)');
      }
      // The chain is not checked (the certificate may be self-signed): the pin is, before login.
      return { ...base, rejectUnauthorized: false, [PINNED_FINGERPRINT]: tls.fingerprint256 };
    case 'anonymous-dh':
      // OpenSSL 3 allows anonymous suites only at security level 0, and only up to TLS 1.2.
      return {
        ...base,
        maxVersion: 'TLSv1.2',
        ciphers: 'ADH-AES256-GCM-SHA384:ADH-AES128-GCM-SHA256:@SECLEVEL=0',
        rejectUnauthorized: false,
      };
  }
}
