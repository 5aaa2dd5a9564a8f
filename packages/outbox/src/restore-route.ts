import { HttpError, httpErrorOf, sendJson, type SignedRequest, type SignedRoute } from '@fleet/service-kit';
import {
  RESTORE_CALLER,
  RESTORE_PATH,
  validateRestoreRequest,
  type RestoreRequest,
  type RestoreResult,
} from './restore-contract.js';

/**
 * Restores one type of entity: checks that the request's principal may change it, checks the
 * state as any input, makes the change and records its event in one transaction. Refuses with
 * the service's domain errors (BadUserInputError, ForbiddenError, NotFoundError, ConflictError).
 */
export type RestoreHandler = (restore: RestoreRequest, request: SignedRequest) => Promise<RestoreResult>;

/**
 * The owner's side of the restore contract (see restore-contract.ts): `POST /restore`, accepted
 * from audit only, signed with `auditKey` (the key of the audit/owner pair), dispatched to the
 * handler of the request's aggregate type.
 */
export function restoreRoute(
  auditKey: Buffer,
  handlers: Readonly<Record<string, RestoreHandler>>,
): Record<string, SignedRoute> {
  return {
    [RESTORE_PATH]: {
      keys: new Map([[RESTORE_CALLER, auditKey]]),
      async handle(request, body, res) {
        let parsed: unknown;
        try {
          parsed = JSON.parse(body.toString('utf8'));
        } catch {
          throw new HttpError(400, 'Malformed JSON in request body', 'BAD_USER_INPUT');
        }
        const checked = validateRestoreRequest(parsed);
        if ('error' in checked) throw new HttpError(400, checked.error, 'BAD_USER_INPUT');
        const restore = checked.request;
        const handler = Object.hasOwn(handlers, restore.aggregateType)
          ? handlers[restore.aggregateType]
          : undefined;
        if (!handler) {
          const known = Object.keys(handlers).join(', ');
          throw new HttpError(
            400,
            `This service restores no entity of type "${restore.aggregateType}" (only: ${known})`,
            'BAD_USER_INPUT',
          );
        }
        let result: RestoreResult;
        try {
          result = await handler(restore, request);
        } catch (error) {
          throw httpErrorOf(error) ?? error;
        }
        request.logger.info(
          {
            aggregateType: restore.aggregateType,
            aggregateId: restore.aggregateId,
            sequence: restore.sequence,
            asOf: restore.asOf,
            eventId: result.eventId,
          },
          'entity restored',
        );
        sendJson(res, 200, result);
      },
    },
  };
}
