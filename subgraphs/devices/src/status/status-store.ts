import { sql, type Kysely, type Selectable } from 'kysely';
import type { DevicesDatabase } from '../database/schema.js';
import { unknownStatus, type DeviceStatus, type InterfaceStatus } from './status-tracker.js';

type StatusRow = Selectable<DevicesDatabase['device_status']>;

function fromRow(row: StatusRow): DeviceStatus {
  const number = (value: number | string | null) => (value === null ? null : Number(value));
  return {
    deviceId: row.device_id,
    tenantId: row.tenant_id,
    state: row.state,
    since: row.since?.toISOString() ?? null,
    checkedAt: row.checked_at?.toISOString() ?? null,
    lastSeenAt: row.last_seen_at?.toISOString() ?? null,
    error: row.error,
    cpuLoad: number(row.cpu_load),
    freeMemory: number(row.free_memory),
    totalMemory: number(row.total_memory),
    uptimeSeconds: number(row.uptime_seconds),
    interfaces: (row.interfaces as InterfaceStatus[] | null) ?? [],
  };
}

/**
 * The devices' last status in the database: written in batches by the process that polls them,
 * read by every process (a query may reach a replica that polls other devices), and the state a
 * replica that takes a device over starts from.
 */
export class StatusStore {
  readonly #db: Kysely<DevicesDatabase>;

  constructor(db: Kysely<DevicesDatabase>) {
    this.#db = db;
  }

  /** Statuses of these devices; a device never polled answers as unknown. */
  async many(devices: readonly { id: string; tenantId: string }[]): Promise<DeviceStatus[]> {
    if (devices.length === 0) return [];
    const rows = await this.#db
      .selectFrom('device_status')
      .selectAll()
      .where(
        'device_id',
        'in',
        devices.map((device) => device.id),
      )
      .execute();
    const byId = new Map(rows.map((row) => [row.device_id, fromRow(row)]));
    return devices.map((device) => byId.get(device.id) ?? unknownStatus(device.id, device.tenantId));
  }

  /**
   * Writes statuses in one statement. A device removed meanwhile is skipped (the join), and its
   * row goes with the device (the foreign key cascades).
   */
  async save(statuses: readonly DeviceStatus[]): Promise<void> {
    if (statuses.length === 0) return;
    const records = JSON.stringify(
      statuses.map((status) => ({
        device_id: status.deviceId,
        tenant_id: status.tenantId,
        state: status.state,
        since: status.since,
        checked_at: status.checkedAt,
        last_seen_at: status.lastSeenAt,
        error: status.error,
        cpu_load: status.cpuLoad,
        free_memory: status.freeMemory,
        total_memory: status.totalMemory,
        uptime_seconds: status.uptimeSeconds,
        interfaces: status.interfaces,
      })),
    );
    await sql`
      insert into device_status (device_id, tenant_id, state, since, checked_at, last_seen_at, error,
        cpu_load, free_memory, total_memory, uptime_seconds, interfaces)
      select r.device_id, r.tenant_id, r.state, r.since, r.checked_at, r.last_seen_at, r.error,
        r.cpu_load, r.free_memory, r.total_memory, r.uptime_seconds, coalesce(r.interfaces, '[]')
      from jsonb_to_recordset(${records}::jsonb) as r(device_id uuid, tenant_id uuid, state text,
        since timestamptz, checked_at timestamptz, last_seen_at timestamptz, error text,
        cpu_load integer, free_memory double precision, total_memory double precision,
        uptime_seconds double precision, interfaces jsonb)
      join device d on d.id = r.device_id
      on conflict (device_id) do update set
        state = excluded.state, since = excluded.since, checked_at = excluded.checked_at,
        last_seen_at = excluded.last_seen_at, error = excluded.error, cpu_load = excluded.cpu_load,
        free_memory = excluded.free_memory, total_memory = excluded.total_memory,
        uptime_seconds = excluded.uptime_seconds, interfaces = excluded.interfaces`.execute(this.#db);
  }
}

/**
 * Reads statuses for one request in batches: every device whose status is asked for in the same
 * tick is read with one query (a tenant's device list with its statuses costs two queries).
 */
export function statusLoader(
  store: StatusStore,
): (device: { id: string; tenantId: string }) => Promise<DeviceStatus> {
  let pending: {
    device: { id: string; tenantId: string };
    resolve: (status: DeviceStatus) => void;
    reject: (error: unknown) => void;
  }[] = [];
  return (device) =>
    new Promise<DeviceStatus>((resolve, reject) => {
      if (pending.length === 0) {
        setImmediate(() => {
          const batch = pending;
          pending = [];
          store.many(batch.map((entry) => entry.device)).then(
            (statuses) => batch.forEach((entry, index) => entry.resolve(statuses[index]!)),
            (error: unknown) => batch.forEach((entry) => entry.reject(error)),
          );
        });
      }
      pending.push({ device, resolve, reject });
    });
}
