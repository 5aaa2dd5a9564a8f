import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  ANONYMOUS,
  HttpError,
  readBody,
  sendJson,
  signedPost,
  type Logger,
  type MutualTls,
} from '@fleet/service-kit';
import type { Admission, RateLimiter } from '../rate-limits/index.js';

/**
 * A public entry whose callers carry no credentials of the platform (a router claiming its
 * enrollment token, Stripe delivering an event): what the caller sends is its credential, which
 * the subgraph behind checks.
 */
export interface AnonymousForward {
  /** What is forwarded, for the log line of each request. */
  name: string;
  /** Spends from the per-address sign-in budget too: the caller guesses at a secret. */
  signsIn: boolean;
  maxBodyBytes: number;
  /** The subgraph's route, the key of the gateway's pair with it, and the gateway's mutual TLS. */
  target: { audience: string; origin: string; key: Buffer; tls: MutualTls | undefined; path: string };
  /** The subgraph's answers the caller may read; any other becomes a 502. */
  relayed: ReadonlySet<number>;
  /** The body the subgraph gets, from the request and its raw body. */
  body: (req: IncomingMessage, raw: Buffer) => string;
  /** The message of the 502 the caller gets when the subgraph cannot answer. */
  failure: string;
  timeoutMs: number;
}

export interface ForwardContext {
  clientAddress: string;
  requestId: string;
  logger: Logger;
  rateLimiter: RateLimiter;
  /** Answers a request refused by the rate limits (the gateway's own refusal). */
  refuse: (res: ServerResponse, admission: Exclude<Admission, { ok: true }>) => void;
}

/**
 * Forwards one anonymous POST: it spends from its address's anonymous budget (and sign-in
 * budget, if asked) before its body is read, the body is bounded, and it goes to the subgraph
 * signed with the gateway's key and the address it came from. The subgraph's answer goes back
 * when it is one the caller may read; anything else, or no answer, is a 502.
 */
export async function forwardAnonymous(
  req: IncomingMessage,
  res: ServerResponse,
  forward: AnonymousForward,
  context: ForwardContext,
): Promise<void> {
  if (req.method !== 'POST') throw new HttpError(405, 'Only POST is accepted here');
  const admission = await context.rateLimiter.admitOperation({
    principal: ANONYMOUS,
    address: context.clientAddress,
    cost: 1,
    signsIn: forward.signsIn,
  });
  if (!admission.ok) {
    context.refuse(res, admission);
    return;
  }
  const raw = await readBody(req, forward.maxBodyBytes);
  let status: number;
  let answer: unknown;
  try {
    const response = await signedPost({
      caller: 'gateway',
      audience: forward.target.audience,
      key: forward.target.key,
      baseUrl: forward.target.origin,
      path: forward.target.path,
      body: forward.body(req, raw),
      requestId: context.requestId,
      clientAddress: context.clientAddress,
      timeoutMs: forward.timeoutMs,
      tls: forward.target.tls,
    });
    status = response.status;
    answer = await response.json().catch(() => undefined);
  } catch (error) {
    context.logger.warn({ err: error }, `${forward.target.audience} could not take a ${forward.name}`);
    status = 502;
  }
  context.logger.info({ status }, forward.name);
  if (!forward.relayed.has(status) || answer === undefined) {
    sendJson(res, 502, { errors: [{ message: forward.failure, extensions: { code: 'BAD_GATEWAY' } }] });
    return;
  }
  sendJson(res, status, answer);
}
