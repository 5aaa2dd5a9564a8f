import { isIP } from 'node:net';

/** Most reverse proxies the gateway can be told to trust. */
export const MAX_TRUSTED_PROXY_HOPS = 5;

/**
 * The end client's IP address, which aaa's brute-force counters are keyed by.
 *
 * With no trusted proxies it is the connection's peer. Behind `trustedProxyHops` reverse proxies,
 * each appending the address it saw to X-Forwarded-For, it is the n-th entry from the right: the
 * entries further left were written by the client and prove nothing. With fewer entries than
 * hops, the leftmost is taken (a shorter chain than configured); with no header at all, the peer.
 * Anything that is not an IP address gives '' (unknown), never a text of the client's choosing.
 */
export function clientAddressOf(
  request: { remoteAddress: string | undefined; forwardedFor: string | string[] | undefined },
  trustedProxyHops: number,
): string {
  const peer = normalizeAddress(request.remoteAddress ?? '');
  if (trustedProxyHops <= 0) return peer;
  const header = Array.isArray(request.forwardedFor) ? request.forwardedFor.join(',') : request.forwardedFor;
  const entries = (header ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  if (entries.length === 0) return peer;
  return normalizeAddress(entries[Math.max(0, entries.length - trustedProxyHops)]!);
}

/**
 * An address in one spelling per host: without port or brackets, IPv4-mapped IPv6 as IPv4,
 * IPv6 in lower case; '' when it is not an IP address.
 */
export function normalizeAddress(text: string): string {
  let address = text.trim();
  const bracketed = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(address);
  if (bracketed) address = bracketed[1]!;
  const withPort = /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/.exec(address);
  if (withPort) address = withPort[1]!;
  address = address.toLowerCase();
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(address);
  if (mapped) address = mapped[1]!;
  return isIP(address) === 0 ? '' : address;
}
