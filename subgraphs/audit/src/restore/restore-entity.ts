import { GraphQLError } from 'graphql';
import type { Kysely } from 'kysely';
import { requestRestore } from '@fleet/outbox';
import {
  BadUserInputError,
  ConflictError,
  ErrorCode,
  ForbiddenError,
  hasScopeIn,
  isPlatformAdmin,
  NotFoundError,
  ServiceUnavailableError,
  type SignedRequest,
} from '@fleet/service-kit';
import { eventScopeOf } from '../access/policy.js';
import type { AuditDatabase } from '../database/schema.js';
import { entityStateAt } from '../history/entity-state.js';
import type { EntityOwners } from './entity-owners.js';

export interface RestoredEntity {
  entityType: string;
  entityId: string;
  tenantId: string | null;
  asOf: string;
  /** The sequence of the event the restored state comes from. */
  restoredFromSequence: number;
  /** The owner's event that records the restore. */
  eventId: string;
  /** The entity's state after the restore, as the owner recorded it. */
  state: Record<string, unknown>;
}

/** The refusals an owner may answer with, passed on as it worded them. */
const OWNER_CODES = new Set<string>([
  ErrorCode.badUserInput,
  ErrorCode.forbidden,
  ErrorCode.notFound,
  ErrorCode.conflict,
]);

/**
 * Brings an entity back to its state at `asOf`: the state is folded from the events the caller
 * may read, and the service that owns the entity is asked (a signed call, on the caller's
 * behalf) to make it current again, as a new change with its own event. History is never
 * rewritten. The caller needs audit:restore in the entity's tenant here, and the owner's own
 * right to change the entity there (devices:write, billing:write): the owner decides too.
 */
export async function restoreEntity(
  db: Kysely<AuditDatabase>,
  owners: EntityOwners,
  request: SignedRequest,
  entity: { entityType: string; entityId: string; asOf: Date },
): Promise<RestoredEntity> {
  const { principal } = request;
  const scope = eventScopeOf(principal);
  if (!scope) throw new ForbiddenError('Restoring needs audit:read and audit:restore');
  const folded = await entityStateAt(db, entity.entityType, entity.entityId, entity.asOf, scope);
  if (!folded) throw new NotFoundError('A recorded state of that entity at that time');
  const allowed =
    folded.tenantId === null
      ? isPlatformAdmin(principal)
      : hasScopeIn(principal, 'audit:restore', folded.tenantId);
  if (!allowed) throw new ForbiddenError('Restoring needs audit:restore in the entity’s tenant');
  if (!folded.exists) {
    throw new ConflictError(
      'The entity did not exist at that time (it had been removed): there is no state to restore',
    );
  }
  const source = folded.event.source;
  const owner = owners.get(source);
  if (!owner)
    throw new BadUserInputError(`Entities of ${source} cannot be restored from the audit log`, 'entityType');

  let answer;
  try {
    answer = await requestRestore({
      owner: source,
      ownerUrl: owner.url,
      key: owner.key,
      tls: owner.tls,
      principal,
      requestId: request.requestId,
      restore: {
        aggregateType: entity.entityType,
        aggregateId: entity.entityId,
        state: folded.state,
        asOf: entity.asOf.toISOString(),
        sequence: folded.sequence,
      },
    });
  } catch (error) {
    request.logger.warn({ err: error, owner: source }, 'restore call failed');
    throw new ServiceUnavailableError(`${source} could not be reached: nothing was restored`);
  }
  if (!answer.ok) {
    if (OWNER_CODES.has(answer.code))
      throw new GraphQLError(answer.message, { extensions: { code: answer.code } });
    request.logger.warn({ owner: source, status: answer.status }, 'restore refused outside the contract');
    throw new ServiceUnavailableError(`${source} could not restore the entity: nothing was restored`);
  }
  request.logger.info(
    {
      entityType: entity.entityType,
      entityId: entity.entityId,
      sequence: folded.sequence,
      eventId: answer.result.eventId,
    },
    'entity restored by its owner',
  );
  return {
    entityType: entity.entityType,
    entityId: entity.entityId,
    tenantId: folded.tenantId,
    asOf: entity.asOf.toISOString(),
    restoredFromSequence: folded.sequence,
    eventId: answer.result.eventId,
    state: answer.result.state,
  };
}
