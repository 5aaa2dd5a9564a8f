import dgram from 'node:dgram';
import dns from 'node:dns';
import net from 'node:net';

/**
 * Loaded with `--import` into every gateway the peer benchmark starts: any attempt to reach an
 * address other than loopback (a peer calling home, a telemetry exporter, a name to resolve)
 * throws where it is made and is written to stderr, so it fails loudly instead of leaving the
 * machine. Sockets of every kind (net, tls, http, undici's fetch) connect through
 * net.Socket.prototype.connect; names are resolved through dns; datagrams go through dgram.
 */
const LOOPBACK_NAMES = new Set(['localhost', 'localhost.']);

function isLoopback(host: string): boolean {
  if (LOOPBACK_NAMES.has(host.toLowerCase())) return true;
  const address = host.replace(/^\[|\]$/g, '').replace(/^::ffff:/i, '');
  if (net.isIPv4(address)) return address.startsWith('127.');
  return address === '::1' || address === '0:0:0:0:0:0:0:1';
}

function refuse(what: string, target: string): never {
  const message = `loopback guard: refused ${what} ${target} (only loopback may be reached)`;
  process.stderr.write(`${message}\n`);
  throw new Error(message);
}

type Connect = (this: net.Socket, ...args: unknown[]) => net.Socket;
// eslint-disable-next-line @typescript-eslint/unbound-method -- always called with its socket as `this`
const connect = net.Socket.prototype.connect as unknown as Connect;
(net.Socket.prototype as unknown as { connect: Connect }).connect = function guardedConnect(...args) {
  const first = Array.isArray(args[0]) ? (args[0] as unknown[])[0] : args[0];
  const options =
    typeof first === 'object' && first !== null
      ? (first as { host?: string; path?: string; port?: unknown })
      : undefined;
  const local = options?.path !== undefined || (typeof first === 'string' && !/^\d+$/.test(first));
  if (!local) {
    const host = options ? options.host : typeof args[1] === 'string' ? args[1] : undefined;
    const port = options ? options.port : first;
    if (!isLoopback(host ?? 'localhost')) refuse('a connection to', `${host}:${String(port)}`);
  }
  return connect.apply(this, args);
};

type Lookup = (hostname: string, ...rest: unknown[]) => unknown;
const lookup = dns.lookup as unknown as Lookup;
(dns as unknown as { lookup: Lookup }).lookup = function guardedLookup(hostname, ...rest) {
  if (!isLoopback(hostname)) refuse('a name lookup of', hostname);
  return lookup.call(dns, hostname, ...rest);
};
const promisedLookup = dns.promises.lookup.bind(dns.promises);
(dns.promises as unknown as { lookup: Lookup }).lookup = (hostname, ...rest) => {
  if (!isLoopback(hostname)) refuse('a name lookup of', hostname);
  return (promisedLookup as unknown as Lookup)(hostname, ...rest);
};
for (const resolver of [
  'resolve',
  'resolve4',
  'resolve6',
  'resolveAny',
  'resolveSrv',
  'resolveTxt',
] as const) {
  (dns as unknown as Record<string, Lookup>)[resolver] = (hostname: string) =>
    refuse('a DNS query for', hostname);
  (dns.promises as unknown as Record<string, Lookup>)[resolver] = (hostname: string) =>
    refuse('a DNS query for', hostname);
}

type Send = (this: dgram.Socket, ...args: unknown[]) => void;
// eslint-disable-next-line @typescript-eslint/unbound-method -- always called with its socket as `this`
const send = dgram.Socket.prototype.send as unknown as Send;
(dgram.Socket.prototype as unknown as { send: Send }).send = function guardedSend(...args) {
  // send(msg, [offset, length,] port, address, callback): the address is the first string after the message.
  const address = args.slice(1).find((arg) => typeof arg === 'string');
  if (typeof address === 'string' && !isLoopback(address)) refuse('a datagram to', address);
  return send.apply(this, args);
};
