import { GraphQLError } from 'graphql';
import { HttpError, sendJson, type SignedRoute } from '@fleet/service-kit';

/** The refusals a claim may meet, as HTTP statuses; anything else is an internal error. */
const STATUS: Record<string, number> = {
  BAD_USER_INPUT: 400,
  NOT_FOUND: 404,
  CONFLICT: 409,
  SERVICE_UNAVAILABLE: 503,
};
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
          const status = error instanceof GraphQLError ? STATUS[String(error.extensions.code)] : undefined;
          if (status) throw new HttpError(status, error instanceof Error ? error.message : 'Refused');
          throw error;
        }
      },
    },
  };
}
