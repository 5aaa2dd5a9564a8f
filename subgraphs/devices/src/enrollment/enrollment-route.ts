import { HttpError, httpErrorOf, sendJson, type SignedRoute } from '@fleet/service-kit';
import type { Enrollments } from './enrollments.js';

/**
 * Where the gateway forwards a router's claim (its public `/enroll`), signed with the gateway's
 * key and carrying the address the claim came from. Answers what the router may learn: enrolled,
 * or why not, in a sentence.
 */
export function enrollmentRoutes(gatewayKey: Buffer, enrollments: Enrollments): Record<string, SignedRoute> {
  return {
    '/internal/enrollments/claim': {
      keys: new Map([['gateway', gatewayKey]]),
      async handle(request, body, res) {
        let claim: { token?: unknown; port?: unknown; fingerprint?: unknown };
        try {
          claim = JSON.parse(body.toString('utf8')) as typeof claim;
        } catch {
          throw new HttpError(400, 'The body must be JSON');
        }
        if (typeof claim !== 'object' || claim === null)
          throw new HttpError(400, 'The body must be a JSON object');
        try {
          const device = await enrollments.claim(
            {
              token: claim.token as string,
              port: claim.port as number,
              fingerprint: claim.fingerprint as string,
            },
            request.clientAddress,
          );
          sendJson(res, 200, { enrolled: true, deviceId: device.id, name: device.name });
        } catch (error) {
          throw httpErrorOf(error) ?? error;
        }
      },
    },
  };
}
