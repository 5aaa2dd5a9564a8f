import { randomUUID } from 'node:crypto';
import { GraphQLError } from 'graphql';
import { sql, type Kysely, type Transaction } from 'kysely';
import { outboxTablesOf, recordEvent, type EventActor } from '@fleet/outbox';
import { ErrorCode, type Logger } from '@fleet/service-kit';
import type { BillingDatabase, ProviderEventOutcome } from '../database/schema.js';
import type { EffectOutcome } from './payment-effects.js';
import type { PaymentProviderName } from './payment-provider.js';

/** What became of a delivery: its event applied, already seen, stale, ignored, or refused unread. */
export type WebhookOutcome = ProviderEventOutcome | 'duplicate' | 'refused';

/** A provider's event whose signature checked out, as billing needs it. */
export interface VerifiedEvent {
  provider: PaymentProviderName;
  id: string;
  type: string;
  /** The object it is about (a subscription, an invoice…) and when the provider made the event. */
  objectId: string;
  created: Date;
  /** The tenant it concerns, lower case, if billing's metadata names one. */
  tenantId: string | null;
}

/** What applying an event did: `reason` says why nothing was applied. */
export interface Applied {
  outcome: EffectOutcome;
  reason?: string;
}

/** The event's changes, made in the transaction that records it. */
export type ApplyEvent = (trx: Transaction<BillingDatabase>, actor: EventActor) => Promise<Applied>;

/** Refusals a call into billing may make: the event is then recorded as ignored, for good. */
const REFUSALS = new Set<string>([
  ErrorCode.badUserInput,
  ErrorCode.conflict,
  ErrorCode.notFound,
  ErrorCode.forbidden,
]);

/**
 * The record of the events payment providers deliver. Each verified event is kept once
 * (`provider_event`), in the transaction of the change it makes: a redelivery of an id already
 * kept is a duplicate and changes nothing, and an event older than the last one taken about its
 * object (applied, or found to change nothing) is stale and changes nothing either. Every delivery, refused ones too, becomes an
 * outbox event `payment.webhook` carrying ids, types and the outcome only.
 */
export class ProviderEvents {
  readonly #db: Kysely<BillingDatabase>;
  readonly #logger: Logger;
  readonly #onEvent: () => void;

  constructor(db: Kysely<BillingDatabase>, logger: Logger, onEvent: () => void) {
    this.#db = db;
    this.#logger = logger;
    this.#onEvent = onEvent;
  }

  /** Applies a verified event once, in order per object. */
  async receive(event: VerifiedEvent, apply: ApplyEvent): Promise<WebhookOutcome> {
    let result: { outcome: WebhookOutcome; reason?: string };
    try {
      result = await this.#db.transaction().execute((trx) => this.#receive(trx, event, apply));
    } catch (error) {
      if (!(error instanceof GraphQLError) || !REFUSALS.has(String(error.extensions.code))) throw error;
      // Billing refused the change: it rolled back, and the event stays ignored for good.
      const reason = String(error.extensions.code);
      result = await this.#db
        .transaction()
        .execute((trx) => this.#receive(trx, event, () => Promise.resolve({ outcome: 'ignored', reason })));
    }
    this.#onEvent();
    this.#logger.info(
      {
        provider: event.provider,
        eventId: event.id,
        type: event.type,
        outcome: result.outcome,
        reason: result.reason,
      },
      'provider event',
    );
    return result.outcome;
  }

  /** A delivery whose signature did not check out: nothing of it is read or kept but the fact. */
  async refuse(provider: PaymentProviderName, reason: string): Promise<void> {
    await this.#db.transaction().execute(async (trx) => {
      await recordEvent(outboxTablesOf(trx), {
        aggregateType: 'payment_webhook',
        aggregateId: randomUUID(),
        type: 'payment.webhook',
        tenantId: null,
        actor: actorOf(provider),
        payload: { provider, outcome: 'refused', reason },
      });
    });
    this.#onEvent();
    this.#logger.warn({ provider, reason }, 'refused a provider event');
  }

  async #receive(
    trx: Transaction<BillingDatabase>,
    event: VerifiedEvent,
    apply: ApplyEvent,
  ): Promise<{ outcome: WebhookOutcome; reason?: string }> {
    // First, so that a concurrent delivery of the same id waits here for this one to commit.
    const kept = await trx
      .insertInto('provider_event')
      .values({
        event_id: event.id,
        provider: event.provider,
        type: event.type,
        object_id: event.objectId,
        created_at: event.created,
        outcome: 'ignored',
        tenant_id: event.tenantId,
      })
      .onConflict((oc) => oc.column('event_id').doNothing())
      .returning('event_id')
      .executeTakeFirst();
    if (!kept) {
      await this.#record(trx, event, 'duplicate');
      return { outcome: 'duplicate' };
    }
    // Events about one object are taken one at a time, each against the newest one taken before
    // (applied, or read and found to change nothing: either way it told the object's state then).
    await sql`select pg_advisory_xact_lock(hashtext(${`${event.provider}:${event.objectId}`}))`.execute(trx);
    const last = await trx
      .selectFrom('provider_event')
      .select((eb) => eb.fn.max('created_at').as('created_at'))
      .where('object_id', '=', event.objectId)
      .where('provider', '=', event.provider)
      .where('outcome', '<>', 'stale')
      .where('event_id', '<>', event.id)
      .executeTakeFirst();
    const lastApplied = last?.created_at ? new Date(last.created_at) : null;
    let result: Applied | { outcome: 'stale'; reason?: string };
    if (lastApplied && event.created < lastApplied) result = { outcome: 'stale' };
    else result = await apply(trx, actorOf(event.provider));
    await trx
      .updateTable('provider_event')
      .set({ outcome: result.outcome })
      .where('event_id', '=', event.id)
      .execute();
    await this.#record(trx, event, result.outcome, result.reason);
    return result;
  }

  async #record(
    trx: Transaction<BillingDatabase>,
    event: VerifiedEvent,
    outcome: WebhookOutcome,
    reason?: string,
  ): Promise<void> {
    await recordEvent(outboxTablesOf(trx), {
      aggregateType: 'payment_webhook',
      aggregateId: event.id,
      type: 'payment.webhook',
      tenantId: event.tenantId,
      actor: actorOf(event.provider),
      payload: {
        provider: event.provider,
        eventId: event.id,
        eventType: event.type,
        objectId: event.objectId,
        outcome,
        ...(reason ? { reason } : {}),
      },
    });
  }
}

/** A provider's changes are made by the provider, as a system actor named after it. */
function actorOf(provider: PaymentProviderName): EventActor {
  return { kind: 'system', id: provider };
}
