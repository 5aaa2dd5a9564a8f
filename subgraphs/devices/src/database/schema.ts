import type { Generated } from 'kysely';
import type { OutboxTables } from '@fleet/outbox';

export interface DevicesDatabase extends OutboxTables {
  device: {
    id: string;
    tenant_id: string;
    name: string;
    host: string;
    port: number;
    created_at: Generated<Date>;
  };
}
