import { createHmac, hash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Signing of service-to-service HTTP requests.
 *
 * Every call between services carries a signature made with a key that belongs to exactly one
 * caller/callee pair. The signature binds the method, the path (with its query string), a
 * timestamp, a nonce, the digest of the body, the caller's principal, the request id and the end
 * client's address, so a captured request can be neither altered nor replayed elsewhere or later.
 *
 * This module is pure: no sockets, no clocks it does not receive. HTTP glue lives elsewhere.
 */

/** Names the canonical form; v2 added the end client's address. */
export const SIGNATURE_VERSION = 'fleet-sig-v2';

/** The header names a signed request carries. Lower case, as Node presents them. */
export const SignedHeaders = {
  caller: 'x-fleet-caller',
  timestamp: 'x-fleet-timestamp',
  nonce: 'x-fleet-nonce',
  principal: 'x-fleet-principal',
  requestId: 'x-request-id',
  clientAddress: 'x-fleet-client',
  signature: 'x-fleet-signature',
} as const;

export interface SignInput {
  /** Name of the calling service, e.g. `gateway`. */
  caller: string;
  /** Name of the service called, e.g. `devices`. */
  audience: string;
  /** The key of this caller/callee pair. */
  key: Buffer;
  method: string;
  /** Path and query string, exactly as sent: `/graphql?x=1`. */
  path: string;
  body: string | Buffer;
  /** The serialized principal of the end user (opaque to this module); empty for none. */
  principal: string;
  requestId: string;
  /**
   * The end client's IP address as the edge saw it, for the callee's brute-force counters;
   * empty (the default) when the call is the service's own or the address is unknown.
   */
  clientAddress?: string;
  /** Milliseconds since the epoch. */
  now: number;
  /** Defaults to 16 random bytes. */
  nonce?: string;
}

export type SignedHeaderValues = Record<(typeof SignedHeaders)[keyof typeof SignedHeaders], string>;

const NONCE_BYTES = 16;
/** Random bytes drawn 256 nonces at a time: one call into the CSPRNG instead of one per request. */
const NONCE_POOL_BYTES = NONCE_BYTES * 256;
let noncePool = Buffer.alloc(0);
let nonceOffset = 0;

/** 16 fresh random bytes (base64url), never handed out twice. */
function randomNonce(): string {
  if (nonceOffset + NONCE_BYTES > noncePool.length) {
    noncePool = randomBytes(NONCE_POOL_BYTES);
    nonceOffset = 0;
  }
  const nonce = noncePool.toString('base64url', nonceOffset, nonceOffset + NONCE_BYTES);
  nonceOffset += NONCE_BYTES;
  return nonce;
}

export function sign(input: SignInput): SignedHeaderValues {
  const timestamp = String(Math.floor(input.now / 1000));
  const nonce = input.nonce ?? randomNonce();
  const clientAddress = input.clientAddress ?? '';
  const signature = computeSignature(input.key, {
    caller: input.caller,
    audience: input.audience,
    method: input.method,
    path: input.path,
    timestamp,
    nonce,
    bodyDigest: sha256Hex(input.body),
    principal: input.principal,
    requestId: input.requestId,
    clientAddress,
  });
  return {
    [SignedHeaders.caller]: input.caller,
    [SignedHeaders.timestamp]: timestamp,
    [SignedHeaders.nonce]: nonce,
    [SignedHeaders.principal]: input.principal,
    [SignedHeaders.requestId]: input.requestId,
    [SignedHeaders.clientAddress]: clientAddress,
    [SignedHeaders.signature]: signature,
  };
}

export interface VerifyInput {
  /** Name of the service verifying, which must be the audience the caller signed for. */
  audience: string;
  /** The keys this endpoint accepts, by caller name. A caller not listed is refused. */
  keys: ReadonlyMap<string, Buffer>;
  method: string;
  path: string;
  body: string | Buffer;
  headers: Readonly<Record<string, string | string[] | undefined>>;
  now: number;
  /** Greatest accepted difference between the signer's clock and ours. */
  maxSkewMs: number;
  replayGuard: ReplayGuard;
}

export type VerifyResult =
  | { ok: true; caller: string; principal: string; requestId: string; clientAddress: string }
  | { ok: false; reason: VerifyFailure };

export type VerifyFailure =
  'missing-header' | 'unknown-caller' | 'bad-timestamp' | 'expired' | 'bad-signature' | 'replayed';

/**
 * Checks a signed request. The reason of a refusal is for logs only: callers answer 401 with no
 * detail whatever it is. The nonce is remembered only once the signature is proven, so unsigned
 * traffic cannot fill the replay guard.
 */
export function verify(input: VerifyInput): VerifyResult {
  const header = (name: string): string | undefined => {
    const value = input.headers[name];
    return typeof value === 'string' ? value : undefined;
  };
  const caller = header(SignedHeaders.caller);
  const timestamp = header(SignedHeaders.timestamp);
  const nonce = header(SignedHeaders.nonce);
  const principal = header(SignedHeaders.principal) ?? '';
  const requestId = header(SignedHeaders.requestId);
  const clientAddress = header(SignedHeaders.clientAddress) ?? '';
  const signature = header(SignedHeaders.signature);
  if (!caller || !timestamp || !nonce || !requestId || !signature) {
    return { ok: false, reason: 'missing-header' };
  }
  const key = input.keys.get(caller);
  if (!key) return { ok: false, reason: 'unknown-caller' };
  if (!/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: 'bad-timestamp' };
  if (Math.abs(input.now - Number(timestamp) * 1000) > input.maxSkewMs) {
    return { ok: false, reason: 'expired' };
  }
  const expected = computeSignature(key, {
    caller,
    audience: input.audience,
    method: input.method,
    path: input.path,
    timestamp,
    nonce,
    bodyDigest: sha256Hex(input.body),
    principal,
    requestId,
    clientAddress,
  });
  if (!constantTimeEqual(expected, signature)) return { ok: false, reason: 'bad-signature' };
  if (!input.replayGuard.remember(`${caller}:${nonce}`, input.now)) {
    return { ok: false, reason: 'replayed' };
  }
  return { ok: true, caller, principal, requestId, clientAddress };
}

interface CanonicalFields {
  caller: string;
  audience: string;
  method: string;
  path: string;
  timestamp: string;
  nonce: string;
  bodyDigest: string;
  principal: string;
  requestId: string;
  clientAddress: string;
}

function computeSignature(key: Buffer, fields: CanonicalFields): string {
  // Every field is length-prefixed so no two different inputs share a canonical form.
  const canonical = [
    SIGNATURE_VERSION,
    fields.caller,
    fields.audience,
    fields.method.toUpperCase(),
    fields.path,
    fields.timestamp,
    fields.nonce,
    fields.bodyDigest,
    fields.principal,
    fields.requestId,
    fields.clientAddress,
  ]
    .map((part) => `${Buffer.byteLength(part)}:${part}`)
    .join('\n');
  return createHmac('sha256', key).update(canonical).digest('base64url');
}

function sha256Hex(body: string | Buffer): string {
  return hash('sha256', body, 'hex');
}

function constantTimeEqual(expected: string, actual: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(actual);
  // timingSafeEqual needs equal lengths; comparing against itself keeps the time constant.
  if (a.length !== b.length) {
    timingSafeEqual(a, a);
    return false;
  }
  return timingSafeEqual(a, b);
}

/** Remembers nonces long enough that a signature cannot be used twice within its validity. */
export interface ReplayGuard {
  /** False when the nonce was seen already (a replay), or when the guard is full. */
  remember(nonce: string, now: number): boolean;
}
