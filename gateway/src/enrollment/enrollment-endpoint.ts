import type { MutualTls } from '@fleet/service-kit';
import type { AnonymousForward } from '../forwarding/anonymous-forward.js';

/**
 * `POST /enroll`: where a router's enrollment script claims its one-time token. The token is
 * the caller's credential, so a claim also spends from the per-address sign-in budget, like
 * logins; it goes to devices with the address it came from, to which devices then connects back.
 */
export function enrollmentForward(
  devices: { origin: string; key: Buffer; tls: MutualTls | undefined },
  timeoutMs: number,
): AnonymousForward {
  return {
    name: 'enrollment claim',
    signsIn: true,
    // A claim is a token, a port and a fingerprint: a few hundred bytes.
    maxBodyBytes: 4_096,
    target: { audience: 'devices', ...devices, path: '/internal/enrollments/claim' },
    relayed: new Set([200, 400, 404, 409, 503]),
    body: (_req, raw) => raw.toString('utf8'),
    failure: 'Enrollment could not be completed',
    timeoutMs,
  };
}
