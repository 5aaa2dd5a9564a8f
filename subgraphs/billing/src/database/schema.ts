import type { Generated } from 'kysely';
import type { OutboxTables } from '@fleet/outbox';

export type SubscriptionStatus = 'trialing' | 'active' | 'past_due' | 'canceled';

export interface BillingDatabase extends OutboxTables {
  plan: {
    id: string;
    name: string;
    device_quota: number;
    rate_limit_tier: string;
    price_minor: number;
    device_day_price_minor: number;
    currency: string;
    trial_days: number;
    available: boolean;
  };
  subscription: {
    tenant_id: string;
    plan_id: string;
    status: SubscriptionStatus;
    trial_ends_at: Date | null;
    past_due_since: Date | null;
    canceled_at: Date | null;
    provider: string;
    provider_customer_id: string | null;
    provider_subscription_id: string | null;
    trial_used: Generated<boolean>;
    entitlement_dirty: Generated<boolean>;
    started_at: Generated<Date>;
    updated_at: Generated<Date>;
  };
  plan_segment: {
    tenant_id: string;
    starts_at: Date;
    ends_at: Date | null;
    plan_id: string;
    billable: boolean;
    price_minor: number;
    device_day_price_minor: number;
    currency: string;
  };
}
