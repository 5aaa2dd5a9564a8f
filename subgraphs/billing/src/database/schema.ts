import type { Generated } from 'kysely';
import type { OutboxTables } from '@fleet/outbox';

export type SubscriptionStatus = 'trialing' | 'active' | 'past_due' | 'canceled';

export type InvoiceStatus = 'open' | 'paid' | 'void';

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
  usage_cursor: {
    feed: string;
    position: number;
    updated_at: Generated<Date>;
  };
  /** Each event of a feed billing metered, once. */
  metered_event: {
    event_id: string;
    position: number;
    event_type: string;
    metered_at: Generated<Date>;
  };
  device_presence: {
    device_id: string;
    tenant_id: string;
    present_from: Date | null;
    present_until: Date | null;
  };
  invoice: {
    id: string;
    tenant_id: string;
    period: string;
    status: InvoiceStatus;
    currency: string;
    total_minor: number;
    issued_at: Date;
    due_at: Date;
    paid_at: Date | null;
    provider: string;
    provider_invoice_id: string | null;
    handed_over_at: Date | null;
    handing_over_until: Date | null;
  };
  invoice_line: {
    invoice_id: string;
    line_no: number;
    kind: 'plan_fee' | 'device_usage';
    description: string;
    plan_id: string;
    period_start: Date;
    period_end: Date;
    quantity: number;
    unit_amount_minor: number;
    amount_minor: number;
  };
  overdue_tenant: {
    tenant_id: string;
    since: Date;
  };
}
