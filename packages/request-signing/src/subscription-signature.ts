import { canonicalJson } from './canonical-json.js';
import { sign, verify, type ReplayGuard, type SignedHeaderValues, type VerifyResult } from './signature.js';

/**
 * Signing of single GraphQL subscriptions, apart from the connection that carries them.
 *
 * One WebSocket from the gateway to a subgraph carries the subscriptions of many end users, so
 * the upgrade can only say that the gateway is calling; each subscription carries its own
 * signature, with its principal, under this key of its graphql-ws `subscribe` payload's
 * `extensions`. The signature is the request signature over a fixed method and path and the
 * canonical JSON of the operation, so it cannot be moved to another operation, to other
 * variables or to a plain HTTP request.
 */
export const SUBSCRIPTION_SIGNATURE_EXTENSION = 'fleetSignature';

/** The part of a graphql-ws `subscribe` payload that its signature covers. */
export interface SubscriptionPayload {
  query: string;
  operationName?: string | null;
  variables?: Record<string, unknown> | null;
}

/** No HTTP request has this method, so no signed request can pass for a subscription. */
const METHOD = 'SUBSCRIBE';
const PATH = '/graphql';

export interface SignSubscriptionInput {
  caller: string;
  audience: string;
  key: Buffer;
  payload: SubscriptionPayload;
  /** The serialized principal of the end user whose subscription this is; empty for none. */
  principal: string;
  requestId: string;
  clientAddress?: string;
  /** Milliseconds since the epoch. */
  now: number;
  /** Defaults to 16 random bytes. */
  nonce?: string;
}

/** The values to put under `extensions[SUBSCRIPTION_SIGNATURE_EXTENSION]`. */
export function signSubscription(input: SignSubscriptionInput): SignedHeaderValues {
  return sign({
    caller: input.caller,
    audience: input.audience,
    key: input.key,
    method: METHOD,
    path: PATH,
    body: signedBody(input.payload),
    principal: input.principal,
    requestId: input.requestId,
    clientAddress: input.clientAddress,
    now: input.now,
    nonce: input.nonce,
  });
}

export interface VerifySubscriptionInput {
  audience: string;
  keys: ReadonlyMap<string, Buffer>;
  payload: SubscriptionPayload;
  /** What the payload's extensions hold under the signature's key: anything, as received. */
  signature: unknown;
  now: number;
  maxSkewMs: number;
  replayGuard: ReplayGuard;
}

/** Checks a subscription's signature against its payload, as `verify` checks a request. */
export function verifySubscription(input: VerifySubscriptionInput): VerifyResult {
  if (!isStringRecord(input.signature)) return { ok: false, reason: 'missing-header' };
  return verify({
    audience: input.audience,
    keys: input.keys,
    method: METHOD,
    path: PATH,
    body: signedBody(input.payload),
    headers: input.signature,
    now: input.now,
    maxSkewMs: input.maxSkewMs,
    replayGuard: input.replayGuard,
  });
}

/** Absent and null name the same operation (and no variables the same as `{}`), so sign them alike. */
function signedBody(payload: SubscriptionPayload): string {
  return canonicalJson({
    query: payload.query,
    operationName: payload.operationName ?? null,
    variables: payload.variables ?? {},
  });
}

function isStringRecord(value: unknown): value is Record<string, string> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.values(value).every((item) => typeof item === 'string')
  );
}
