import type { Kysely, Selectable, Transaction } from 'kysely';
import { outboxTablesOf, recordEvent, type EventActor } from '@fleet/outbox';
import { BadUserInputError } from '@fleet/service-kit';
import { inTransaction } from '../database/in-transaction.js';
import type { BillingDatabase, SubscriptionStatus } from '../database/schema.js';
import type { PaymentProvider, ProviderAccount } from '../payments/payment-provider.js';
import { FREE_PLAN_ID, isPaid, type PlanRow } from '../plans/plan-catalog.js';

export type SubscriptionRow = Selectable<BillingDatabase['subscription']>;

/** What the subscription code needs of entitlements (the entitlements folder implements it). */
export interface EntitlementGuard {
  /**
   * Inside the transaction of a change that lowers a tenant's device quota, before it commits:
   * makes devices hold the new quota, or throws a ConflictError stating the tenant's count.
   * `trx` is that transaction (the embedded database has one connection: a query beside it
   * would wait for it).
   */
  enforce(
    tenantId: string,
    change: { deviceQuota: number; planName: string },
    trx: Kysely<BillingDatabase>,
  ): Promise<void>;
  /** After a commit that marked entitlements dirty: pushes them soon. */
  notify(): void;
}

/** A tenant's subscription as it reads, also for tenants that never left the free plan. */
export interface SubscriptionView {
  tenantId: string;
  plan: PlanRow;
  status: SubscriptionStatus;
  trialEndsAt: Date | null;
  pastDueSince: Date | null;
  canceledAt: Date | null;
  provider: string;
  account: ProviderAccount;
  /** Whether the tenant had its trial: later paid plans start active. */
  trialUsed: boolean;
}

export interface SubscriptionsOptions {
  db: Kysely<BillingDatabase>;
  provider: PaymentProvider;
  entitlements: EntitlementGuard;
  onEvent: () => void;
  now?: () => Date;
}

/** A change as made: the subscription after it, and its event (none when nothing changed). */
export interface SubscriptionChange {
  view: SubscriptionView;
  eventId: string | null;
}

/** Who asked for a change: a person or key through GraphQL, the provider, or billing itself. */
export type ChangeOrigin = 'caller' | 'provider' | 'billing';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The tenant id of a caller's argument, checked and in lower case. */
export function tenantIdOf(value: string): string {
  if (!UUID.test(value)) throw new BadUserInputError('tenantId must be a UUID', 'tenantId');
  return value.toLowerCase();
}

const DAY_MS = 86_400_000;

/** Billing's own changes: trials ending, accounts falling overdue. */
export const BILLING_ACTOR: EventActor = { kind: 'system', id: null };

/**
 * Tenants' subscriptions and their lifecycle:
 *
 *     (free) ──changePlan(paid)──▶ trialing ──trial ends──▶ active ◀──paid──▶ past_due
 *                                     │                       │                  │
 *                                     └──────── cancel / provider ended ─────────┴──▶ canceled
 *
 * A tenant's first paid plan starts with the plan's trial, if it has one. Every change closes
 * the tenant's current plan segment and opens the next in the same transaction, so invoices
 * prorate by the second; the change and its outbox event commit together. A change that lowers
 * the device quota first makes devices hold it (refused, stating the count, when the tenant has
 * more devices); every other change of entitlements reaches devices and the gateway after the
 * commit, marked dirty until it has.
 */
export class Subscriptions {
  readonly #db: Kysely<BillingDatabase>;
  readonly #provider: PaymentProvider;
  readonly #entitlements: EntitlementGuard;
  readonly #onEvent: () => void;
  readonly #now: () => Date;
  readonly #options: SubscriptionsOptions;

  constructor(options: SubscriptionsOptions) {
    this.#options = options;
    this.#db = options.db;
    this.#provider = options.provider;
    this.#entitlements = options.entitlements;
    this.#onEvent = options.onEvent;
    this.#now = options.now ?? (() => new Date());
  }

  /**
   * The same subscriptions, changed inside `trx` (a provider's event's transaction): each change
   * commits with it, and whoever commits it tells the outbox and the entitlements after.
   */
  withTransaction(trx: Transaction<BillingDatabase>): Subscriptions {
    return new Subscriptions({
      ...this.#options,
      db: trx,
      entitlements: { enforce: (...args) => this.#entitlements.enforce(...args), notify: () => undefined },
      onEvent: () => undefined,
    });
  }

  get provider(): PaymentProvider {
    return this.#provider;
  }

  async get(tenantId: string): Promise<SubscriptionView> {
    const row = await this.#db
      .selectFrom('subscription')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .executeTakeFirst();
    return this.#view(this.#db, tenantId, row);
  }

  /** The tenant of a provider's subscription or customer id, if billing knows it. */
  async tenantOfProvider(ids: { subscriptionId?: string; customerId?: string }): Promise<string | undefined> {
    let query = this.#db.selectFrom('subscription').select('tenant_id');
    if (ids.subscriptionId) query = query.where('provider_subscription_id', '=', ids.subscriptionId);
    else if (ids.customerId) query = query.where('provider_customer_id', '=', ids.customerId);
    else return undefined;
    return (await query.executeTakeFirst())?.tenant_id;
  }

  /**
   * Puts a tenant on a plan now. Refuses an unknown or withdrawn plan, a plan in another
   * currency while the current one charges, a downgrade below the tenant's device count, and,
   * where the provider collects by its own payment page, a first paid plan chosen by a caller
   * (that starts with startCheckout). The same plan again changes nothing.
   */
  async changePlan(
    tenantId: string,
    planId: string,
    actor: EventActor,
    origin: ChangeOrigin,
    type = 'subscription.plan_changed',
  ): Promise<SubscriptionChange> {
    const result = await inTransaction(this.#db, async (trx): Promise<SubscriptionChange> => {
      const plan = await trx.selectFrom('plan').selectAll().where('id', '=', planId).executeTakeFirst();
      if (!plan) throw new BadUserInputError(`There is no plan "${planId}"`, 'planId');
      const row = await this.#lock(trx, tenantId, true);
      const current = await this.#view(trx, tenantId, row);
      if (current.plan.id === plan.id && current.status !== 'canceled')
        return { view: current, eventId: null };
      if (!plan.available && origin === 'caller')
        throw new BadUserInputError(`Plan "${plan.name}" is no longer offered`, 'planId');
      if (isPaid(current.plan) && current.status !== 'canceled' && plan.currency !== current.plan.currency)
        throw new BadUserInputError(
          `Plan "${plan.name}" is in ${plan.currency}; the tenant is billed in ${current.plan.currency}`,
          'planId',
        );
      if (
        origin === 'caller' &&
        this.#provider.name !== 'manual' &&
        isPaid(plan) &&
        !current.account.subscriptionId
      )
        throw new BadUserInputError(
          `A first paid plan starts at the payment page: call startCheckout for plan "${plan.id}"`,
          'planId',
        );
      if (plan.device_quota < current.plan.device_quota)
        await this.#entitlements.enforce(
          tenantId,
          { deviceQuota: plan.device_quota, planName: plan.name },
          trx,
        );

      const now = this.#now();
      let status: SubscriptionStatus;
      let trialEndsAt: Date | null = null;
      let trialUsed = row?.trial_used ?? false;
      if (!isPaid(plan)) status = 'active';
      else if (current.status === 'trialing') {
        status = 'trialing';
        trialEndsAt = current.trialEndsAt;
      } else if (current.status === 'past_due') status = 'past_due';
      else if (!trialUsed && plan.trial_days > 0) {
        status = 'trialing';
        trialEndsAt = new Date(now.getTime() + plan.trial_days * DAY_MS);
        trialUsed = true;
      } else status = 'active';

      await this.#write(trx, tenantId, {
        plan_id: plan.id,
        status,
        trial_ends_at: trialEndsAt,
        trial_used: trialUsed,
        canceled_at: null,
        past_due_since: status === 'past_due' ? current.pastDueSince : null,
      });
      await this.#openSegment(trx, tenantId, plan, status !== 'trialing', now);
      const view = await this.#view(trx, tenantId, await this.#lock(trx, tenantId));
      return { view, eventId: await this.#record(trx, view, type, actor, current.status) };
    });
    if (result.eventId) this.#committed();
    return result;
  }

  /**
   * Ends a tenant's paid subscription now and puts it back on the free plan. A caller's cancel
   * must leave room for the tenant's devices, as any downgrade, and ends the provider's side
   * first; the provider's or billing's own (an unpaid account) is applied whatever the count:
   * the devices stay, and no more can be added.
   */
  async cancel(tenantId: string, actor: EventActor, origin: ChangeOrigin): Promise<SubscriptionView> {
    const result = await inTransaction(this.#db, async (trx) => {
      const row = await this.#lock(trx, tenantId);
      const current = await this.#view(trx, tenantId, row);
      if (!row || current.status === 'canceled' || current.plan.id === FREE_PLAN_ID) {
        if (origin !== 'caller') return { view: current, changed: false };
        throw new BadUserInputError('The tenant has no paid subscription to cancel', 'tenantId');
      }
      const free = (await trx
        .selectFrom('plan')
        .selectAll()
        .where('id', '=', FREE_PLAN_ID)
        .executeTakeFirst())!;
      if (origin === 'caller') {
        if (free.device_quota < current.plan.device_quota)
          await this.#entitlements.enforce(
            tenantId,
            { deviceQuota: free.device_quota, planName: free.name },
            trx,
          );
        if (current.account.subscriptionId) await this.#provider.cancel(current.account);
      }
      const now = this.#now();
      await this.#write(trx, tenantId, {
        plan_id: FREE_PLAN_ID,
        status: 'canceled',
        trial_ends_at: null,
        past_due_since: null,
        canceled_at: now,
      });
      await this.#openSegment(trx, tenantId, free, false, now);
      const view = await this.#view(trx, tenantId, await this.#lock(trx, tenantId));
      await this.#record(trx, view, 'subscription.canceled', actor, current.status);
      return { view, changed: true };
    });
    if (result.changed) this.#committed();
    return result.view;
  }

  /**
   * Moves a paid subscription between active and past_due (an invoice overdue, or paid again;
   * the provider failing to collect, or succeeding). Other moves go through changePlan, cancel
   * and endTrials; asking for the status the subscription has changes nothing.
   */
  async setStanding(
    tenantId: string,
    status: 'active' | 'past_due',
    actor: EventActor,
  ): Promise<SubscriptionView> {
    const result = await inTransaction(this.#db, async (trx) => {
      const row = await this.#lock(trx, tenantId);
      const current = await this.#view(trx, tenantId, row);
      if (!row || current.status === status || current.status === 'canceled' || !isPaid(current.plan))
        return { view: current, changed: false };
      if (current.status === 'trialing' && status === 'active') return { view: current, changed: false };
      const now = this.#now();
      if (current.status === 'trialing') {
        // Payment failed during a trial: the trial is over, and the tenant owes.
        await this.#openSegment(trx, tenantId, current.plan, true, now);
      }
      await this.#write(trx, tenantId, {
        status,
        trial_ends_at: null,
        past_due_since: status === 'past_due' ? now : null,
      });
      const view = await this.#view(trx, tenantId, await this.#lock(trx, tenantId));
      const type = status === 'past_due' ? 'subscription.past_due' : 'subscription.reactivated';
      await this.#record(trx, view, type, actor, current.status);
      return { view, changed: true };
    });
    if (result.changed) this.#committed();
    return result.view;
  }

  /**
   * Sends the tenant's owner to the provider's payment page to subscribe to a paid plan. The
   * plan changes when the provider reports the subscription made (its webhook), not before.
   */
  async startCheckout(
    tenantId: string,
    planId: string,
    actor: EventActor,
  ): Promise<{ id: string; url: string }> {
    const plan = await this.#db.selectFrom('plan').selectAll().where('id', '=', planId).executeTakeFirst();
    if (!plan) throw new BadUserInputError(`There is no plan "${planId}"`, 'planId');
    if (!plan.available) throw new BadUserInputError(`Plan "${plan.name}" is no longer offered`, 'planId');
    if (!isPaid(plan))
      throw new BadUserInputError(
        `Plan "${plan.name}" costs nothing: choose it with changeTenantPlan`,
        'planId',
      );
    const current = await this.get(tenantId);
    if (current.account.subscriptionId && current.status !== 'canceled')
      throw new BadUserInputError(
        'The tenant subscribes through the provider already: change its plan with changeTenantPlan',
        'tenantId',
      );
    const session = await this.#provider.startCheckout({
      tenantId,
      plan,
      account: current.account,
      trialDays: current.trialUsed ? 0 : plan.trial_days,
    });
    await this.attachProvider(tenantId, { customerId: session.customerId }, actor);
    return { id: session.sessionId, url: session.url };
  }

  /** Records the provider's ids of a tenant's customer and subscription. */
  async attachProvider(
    tenantId: string,
    account: Partial<ProviderAccount>,
    actor: EventActor,
  ): Promise<{ changed: boolean }> {
    const changed = await inTransaction(this.#db, async (trx) => {
      const row = (await this.#lock(trx, tenantId, true))!;
      const customerId = account.customerId ?? row.provider_customer_id;
      const subscriptionId =
        account.subscriptionId === undefined ? row.provider_subscription_id : account.subscriptionId;
      if (
        row.provider === this.#provider.name &&
        customerId === row.provider_customer_id &&
        subscriptionId === row.provider_subscription_id
      )
        return false;
      await trx
        .updateTable('subscription')
        .set({
          provider: this.#provider.name,
          provider_customer_id: customerId,
          provider_subscription_id: subscriptionId,
          updated_at: this.#now(),
        })
        .where('tenant_id', '=', tenantId)
        .execute();
      const view = await this.#view(trx, tenantId, await this.#lock(trx, tenantId));
      await this.#record(trx, view, 'subscription.provider_attached', actor, view.status);
      return true;
    });
    if (changed) this.#onEvent();
    return { changed };
  }

  /**
   * Ends the tenant's trial now, when the provider reports the subscription active before
   * billing's own clock does. Changes nothing for a subscription that is not trialing.
   */
  async endTrialNow(tenantId: string, actor: EventActor): Promise<{ changed: boolean }> {
    const changed = await inTransaction(this.#db, async (trx) => {
      const row = await this.#lock(trx, tenantId);
      if (row?.status !== 'trialing') return false;
      const current = await this.#view(trx, tenantId, row);
      await this.#openSegment(trx, tenantId, current.plan, true, this.#now());
      await this.#write(trx, tenantId, { status: 'active', trial_ends_at: null });
      const view = await this.#view(trx, tenantId, await this.#lock(trx, tenantId));
      await this.#record(trx, view, 'subscription.trial_ended', actor, 'trialing');
      return true;
    });
    if (changed) this.#committed();
    return { changed };
  }

  /** Ends every trial that is due: each subscription turns active at its trial's end. */
  async endTrials(actor: EventActor): Promise<number> {
    const now = this.#now();
    const due = await this.#db
      .selectFrom('subscription')
      .select('tenant_id')
      .where('status', '=', 'trialing')
      .where('trial_ends_at', '<=', now)
      .orderBy('trial_ends_at')
      .limit(500)
      .execute();
    let ended = 0;
    for (const { tenant_id: tenantId } of due) {
      const changed = await inTransaction(this.#db, async (trx) => {
        const row = await this.#lock(trx, tenantId);
        if (row?.status !== 'trialing' || !row.trial_ends_at || row.trial_ends_at > now) return false;
        const current = await this.#view(trx, tenantId, row);
        // The paid segment starts when the trial ended, not when this worker noticed.
        await this.#openSegment(trx, tenantId, current.plan, true, row.trial_ends_at);
        await this.#write(trx, tenantId, { status: 'active', trial_ends_at: null });
        const view = await this.#view(trx, tenantId, await this.#lock(trx, tenantId));
        await this.#record(trx, view, 'subscription.trial_ended', actor, 'trialing');
        return true;
      });
      if (changed) ended++;
    }
    if (ended > 0) this.#committed();
    return ended;
  }

  #committed(): void {
    this.#onEvent();
    this.#entitlements.notify();
  }

  /** Locks the tenant's row; with `create`, makes it first (on the free plan, active). */
  async #lock(trx: Transaction<BillingDatabase>, tenantId: string, create = false) {
    if (create) {
      await trx
        .insertInto('subscription')
        .values({
          tenant_id: tenantId,
          plan_id: FREE_PLAN_ID,
          status: 'active',
          provider: this.#provider.name,
        })
        .onConflict((oc) => oc.column('tenant_id').doNothing())
        .execute();
    }
    return trx
      .selectFrom('subscription')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .forUpdate()
      .executeTakeFirst();
  }

  async #write(
    trx: Transaction<BillingDatabase>,
    tenantId: string,
    values: Partial<Omit<SubscriptionRow, 'tenant_id' | 'started_at' | 'updated_at' | 'entitlement_dirty'>>,
  ): Promise<void> {
    await this.#lock(trx, tenantId, true);
    await trx
      .updateTable('subscription')
      .set({ ...values, entitlement_dirty: true, updated_at: this.#now() })
      .where('tenant_id', '=', tenantId)
      .execute();
  }

  /**
   * Closes the tenant's current segment at `at` and opens the next, on `plan` at its current
   * prices. A segment that would last no time at all is replaced instead.
   */
  async #openSegment(
    trx: Transaction<BillingDatabase>,
    tenantId: string,
    plan: PlanRow,
    billable: boolean,
    at: Date,
  ): Promise<void> {
    const open = await trx
      .selectFrom('plan_segment')
      .select('starts_at')
      .where('tenant_id', '=', tenantId)
      .where('ends_at', 'is', null)
      .executeTakeFirst();
    const next = {
      plan_id: plan.id,
      billable,
      price_minor: plan.price_minor,
      device_day_price_minor: plan.device_day_price_minor,
      currency: plan.currency,
    };
    if (open && open.starts_at.getTime() >= at.getTime()) {
      await trx
        .updateTable('plan_segment')
        .set(next)
        .where('tenant_id', '=', tenantId)
        .where('starts_at', '=', open.starts_at)
        .execute();
      return;
    }
    if (open) {
      await trx
        .updateTable('plan_segment')
        .set({ ends_at: at })
        .where('tenant_id', '=', tenantId)
        .where('starts_at', '=', open.starts_at)
        .execute();
    }
    await trx
      .insertInto('plan_segment')
      .values({ tenant_id: tenantId, starts_at: at, ends_at: null, ...next })
      .execute();
  }

  async #view(
    db: Kysely<BillingDatabase>,
    tenantId: string,
    row: SubscriptionRow | undefined,
  ): Promise<SubscriptionView> {
    const plan = (await db
      .selectFrom('plan')
      .selectAll()
      .where('id', '=', row?.plan_id ?? FREE_PLAN_ID)
      .executeTakeFirst())!;
    return {
      tenantId,
      plan,
      status: row?.status ?? 'active',
      trialEndsAt: row?.trial_ends_at ?? null,
      pastDueSince: row?.past_due_since ?? null,
      canceledAt: row?.canceled_at ?? null,
      // A tenant keeps the provider it signed up with, should billing's default change later.
      provider:
        row && (row.provider_subscription_id ?? row.provider_customer_id)
          ? row.provider
          : this.#provider.name,
      account: {
        customerId: row?.provider_customer_id ?? null,
        subscriptionId: row?.provider_subscription_id ?? null,
      },
      trialUsed: row?.trial_used ?? false,
    };
  }

  async #record(
    trx: Transaction<BillingDatabase>,
    view: SubscriptionView,
    type: string,
    actor: EventActor,
    previousStatus: SubscriptionStatus,
  ): Promise<string> {
    return recordEvent(outboxTablesOf(trx), {
      aggregateType: 'subscription',
      aggregateId: view.tenantId,
      type,
      tenantId: view.tenantId,
      actor,
      payload: { ...subscriptionState(view), previousStatus },
    });
  }
}

/** A subscription as its events record it: ids and facts, nothing about people. */
export function subscriptionState(view: SubscriptionView) {
  return {
    tenantId: view.tenantId,
    planId: view.plan.id,
    status: view.status,
    trialEndsAt: view.trialEndsAt?.toISOString() ?? null,
    provider: view.provider,
  };
}
