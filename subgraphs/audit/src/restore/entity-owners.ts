import type { MutualTls } from '@fleet/service-kit';

/** Where audit reaches the service that owns an entity, to ask it for a restore. */
export interface EntityOwner {
  /** Base URL of the owning service. */
  url: string;
  /** The key of the audit/owner pair. */
  key: Buffer;
  /** Audit's mutual TLS; undefined only where it was turned off. */
  tls?: MutualTls | undefined;
}

/**
 * The owners audit may ask to restore, by the source their events come from. aaa is not one:
 * its entities hold personal data that lives in aaa alone, and are changed through aaa.
 */
export type EntityOwners = ReadonlyMap<string, EntityOwner>;
