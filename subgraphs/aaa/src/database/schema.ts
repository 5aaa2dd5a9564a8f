import type { Generated } from 'kysely';
import type { OutboxTables } from '@fleet/outbox';

export interface AaaDatabase extends OutboxTables {
  tenant: {
    id: string;
    name: string;
    slug: string;
    created_at: Generated<Date>;
  };
  app_user: {
    id: string;
    tenant_id: string;
    created_at: Generated<Date>;
  };
}
