import type { Generated } from 'kysely';
import type { OutboxTables } from '@fleet/outbox';

export interface BillingDatabase extends OutboxTables {
  plan: {
    id: string;
    name: string;
    device_quota: number;
    price_minor: number;
    currency: string;
  };
  tenant_plan: {
    tenant_id: string;
    plan_id: string;
    changed_at: Generated<Date>;
  };
}
