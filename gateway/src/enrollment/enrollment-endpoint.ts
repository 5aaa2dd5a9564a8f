import type { IncomingMessage, ServerResponse } from 'node:http';
import { ANONYMOUS, HttpError, readBody, sendJson, signedPost, type Logger } from '@fleet/service-kit';
import type { Admission, RateLimiter } from '../rate-limits/index.js';

/** A claim is a token, a port and a fingerprint: a few hundred bytes. */
const MAX_CLAIM_BYTES = 4_096;

/** The answers of devices the router may read; anything else becomes a 502. */
const RELAYED = new Set([200, 400, 404, 409, 503]);

export interface EnrollmentEndpointOptions {
  /** The devices subgraph's origin, and the key of the gateway/devices pair. */
  devices: { origin: string; key: Buffer };
  rateLimiter: RateLimiter;
  timeoutMs: number;
  /** Answers a request refused by the rate limits (the gateway's own refusal). */
  refuse: (res: ServerResponse, admission: Exclude<Admission, { ok: true }>) => void;
}

/**
 * `POST /enroll`: where a router's enrollment script claims its one-time token. The caller has
 * no credentials (the token is its credential), so it spends from the per-address sign-in
 * budget, like logins; the claim goes to devices signed with the gateway's key and the address
 * it came from, to which devices then connects back.
 */
export async function forwardEnrollmentClaim(
  req: IncomingMessage,
  res: ServerResponse,
  context: { clientAddress: string; requestId: string; logger: Logger },
  options: EnrollmentEndpointOptions,
): Promise<void> {
  if (req.method !== 'POST') throw new HttpError(405, 'Only POST is accepted here');
  const admission = await options.rateLimiter.admitOperation({
    principal: ANONYMOUS,
    address: context.clientAddress,
    cost: 1,
    signsIn: true,
  });
  if (!admission.ok) {
    options.refuse(res, admission);
    return;
  }
  const body = await readBody(req, MAX_CLAIM_BYTES);
  const response = await signedPost({
    caller: 'gateway',
    audience: 'devices',
    key: options.devices.key,
    baseUrl: options.devices.origin,
    path: '/internal/enrollments/claim',
    body: body.toString('utf8'),
    requestId: context.requestId,
    clientAddress: context.clientAddress,
    timeoutMs: options.timeoutMs,
  });
  const answer: unknown = await response.json().catch(() => undefined);
  context.logger.info({ status: response.status }, 'enrollment claim');
  if (!RELAYED.has(response.status) || answer === undefined) {
    sendJson(res, 502, {
      errors: [{ message: 'Enrollment could not be completed', extensions: { code: 'BAD_GATEWAY' } }],
    });
    return;
  }
  sendJson(res, response.status, answer);
}
