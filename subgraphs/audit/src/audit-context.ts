import type { Kysely } from 'kysely';
import type { SignedRequest } from '@fleet/service-kit';
import type { ChainWriter } from './chain/chain-writer.js';
import type { CheckpointSigner } from './chain/checkpoint-signer.js';
import type { AuditDatabase } from './database/schema.js';
import type { RetentionPolicy } from './retention/retention-policy.js';
import type { RetentionSealer } from './retention/retention-sealer.js';
import type { EntityOwners } from './restore/entity-owners.js';

/** What every audit resolver is given: the signed request, and the service's parts. */
export interface AuditContext {
  db: Kysely<AuditDatabase>;
  request: SignedRequest;
  signer: CheckpointSigner;
  chain: ChainWriter;
  retention: RetentionPolicy;
  sealer: RetentionSealer;
  /** The services audit asks to restore their entities. */
  owners: EntityOwners;
  /** Most positions one auditExport asks for. */
  exportMaxPositions: number;
}
