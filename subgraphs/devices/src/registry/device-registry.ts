import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import { actorOf, outboxTablesOf, recordEvent } from '@fleet/outbox';
import { ConflictError, type Principal } from '@fleet/service-kit';
import type { DevicesDatabase } from '../database/schema.js';
import { isUuid, validateCreateDevice, type CreateDeviceInput } from './device-input.js';

export type DeviceRow = Selectable<DevicesDatabase['device']>;

/** The device as events record it: its state, with ids and no secrets. */
function snapshot(device: DeviceRow): Record<string, unknown> {
  return {
    id: device.id,
    tenantId: device.tenant_id,
    name: device.name,
    host: device.host,
    port: device.port,
    createdAt: device.created_at.toISOString(),
  };
}

export class DeviceRegistry {
  readonly #db: Kysely<DevicesDatabase>;
  readonly #onEvent: () => void;

  /** `onEvent` is called after each committed change that recorded an event. */
  constructor(db: Kysely<DevicesDatabase>, onEvent: () => void) {
    this.#db = db;
    this.#onEvent = onEvent;
  }

  async create(input: CreateDeviceInput, principal: Principal): Promise<DeviceRow> {
    const valid = validateCreateDevice(input);
    const device = await this.#db.transaction().execute(async (trx) => {
      const created = await trx
        .insertInto('device')
        .values({
          id: randomUUID(),
          tenant_id: valid.tenantId,
          name: valid.name,
          host: valid.host,
          port: valid.port,
        })
        .onConflict((oc) => oc.columns(['tenant_id', 'name']).doNothing())
        .returningAll()
        .executeTakeFirst();
      if (!created)
        throw new ConflictError(`A device named "${valid.name}" exists already in this tenant`, 'name');
      await recordEvent(outboxTablesOf(trx), {
        aggregateType: 'device',
        aggregateId: created.id,
        type: 'device.created',
        tenantId: created.tenant_id,
        actor: actorOf(principal),
        payload: snapshot(created),
      });
      return created;
    });
    this.#onEvent();
    return device;
  }

  async get(id: string): Promise<DeviceRow | undefined> {
    if (!isUuid(id)) return undefined;
    return this.#db.selectFrom('device').selectAll().where('id', '=', id.toLowerCase()).executeTakeFirst();
  }

  async listByTenant(tenantId: string): Promise<DeviceRow[]> {
    if (!isUuid(tenantId)) return [];
    return this.#db
      .selectFrom('device')
      .selectAll()
      .where('tenant_id', '=', tenantId.toLowerCase())
      .orderBy('name')
      .execute();
  }
}
