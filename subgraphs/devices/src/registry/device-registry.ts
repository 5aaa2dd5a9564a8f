import { randomUUID } from 'node:crypto';
import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import { RouterClient, type RouterClientOptions, type RouterTls } from '@fleet/router-api';
import {
  actorOf,
  lastSequenceOf,
  outboxTablesOf,
  recordEvent,
  type EventActor,
  type RestoreRequest,
  type RestoreResult,
} from '@fleet/outbox';
import {
  BadUserInputError,
  ConflictError,
  hasScopeIn,
  NotFoundError,
  type Principal,
} from '@fleet/service-kit';
import type { CredentialVault, RouterCredentials } from '../credentials/credential-vault.js';
import type { DevicesDatabase } from '../database/schema.js';
import type { TenantEntitlements } from '../entitlements/tenant-entitlements.js';
import type { RouterNetworks } from '../routers/router-networks.js';
import {
  probeRouter,
  withServername,
  type ProbeTimeouts,
  type RouterFacts,
} from '../routers/router-probe.js';
import {
  isUuid,
  validateCreateDevice,
  validateCredentials,
  validateDeviceState,
  validateDeviceUpdate,
  type CreateDeviceInput,
  type UpdateDeviceInput,
  type ValidDevice,
} from './device-input.js';

export type DeviceRow = Selectable<DevicesDatabase['device']>;

export interface DeviceRegistryOptions {
  vault: CredentialVault;
  networks: RouterNetworks;
  timeouts: ProbeTimeouts;
  /** Each tenant's device quota. */
  quotas: TenantEntitlements;
  /** Called after each committed change that recorded an event. */
  onEvent: () => void;
}

/** The device as events record it: its state, with ids and no secrets. */
function snapshot(device: DeviceRow): Record<string, unknown> {
  return {
    id: device.id,
    tenantId: device.tenant_id,
    name: device.name,
    host: device.host,
    port: device.port,
    site: device.site,
    tags: device.tags,
    tlsMode: device.tls_mode,
    tlsFingerprint: device.tls_fingerprint,
    identity: device.identity,
    routerVersion: device.router_version,
    board: device.board,
    createdAt: device.created_at.toISOString(),
  };
}

/**
 * The tenants' devices. A device is stored only once the platform has reached it with the
 * address, TLS settings and credentials given (push enrollment); its credentials are sealed
 * under the tenant's key and never leave this class in the clear except to reach the router.
 */
export class DeviceRegistry {
  readonly #db: Kysely<DevicesDatabase>;
  readonly #options: DeviceRegistryOptions;

  constructor(db: Kysely<DevicesDatabase>, options: DeviceRegistryOptions) {
    this.#db = db;
    this.#options = options;
  }

  /** Push enrollment: checks the input, reaches the router, then stores the device. */
  async create(input: CreateDeviceInput, principal: Principal): Promise<DeviceRow> {
    const valid = validateCreateDevice(input);
    await this.checkRoom(valid.tenantId);
    const facts = await this.#reach(valid.name, valid.host, valid.port, valid.tls, valid.credentials);
    return this.add({ ...valid, facts }, actorOf(principal));
  }

  /**
   * Stores a device the platform has just reached (by push or pull enrollment), within the
   * tenant's quota, with its credentials sealed and its event recorded. `within` runs first in
   * the same transaction (a pull enrollment spends its token there).
   */
  async add(
    device: ValidDevice & { facts: RouterFacts },
    actor: EventActor,
    within?: (trx: Transaction<DevicesDatabase>, deviceId: string) => Promise<void>,
  ): Promise<DeviceRow> {
    const id = randomUUID();
    // Before the transaction: billing may have to be asked, and no lock is held while it answers.
    await this.#options.quotas.learn(device.tenantId);
    const sealed = await this.#options.vault.seal(device.tenantId, id, device.credentials);
    const stored = await this.#db.transaction().execute(async (trx) => {
      await within?.(trx, id);
      await this.#reserve(trx, device.tenantId);
      const created = await trx
        .insertInto('device')
        .values({
          id,
          tenant_id: device.tenantId,
          name: device.name,
          host: device.host,
          port: device.port,
          site: device.site,
          tags: device.tags,
          ...tlsColumns(device.tls),
          credentials: sealed.sealed,
          credentials_key_version: sealed.keyVersion,
          identity: device.facts.identity,
          router_version: device.facts.version,
          board: device.facts.board,
        })
        .onConflict((oc) => oc.columns(['tenant_id', 'name']).doNothing())
        .returningAll()
        .executeTakeFirst();
      if (!created)
        throw new ConflictError(`A device named "${device.name}" exists already in this tenant`, 'name');
      await this.#record(trx, created, 'device.created', actor);
      return created;
    });
    this.#options.onEvent();
    return stored;
  }

  /** Replaces a device's credentials, once the router has accepted the new ones. */
  async rotateCredentials(
    id: string,
    input: { username: string; password: string },
    principal: Principal,
  ): Promise<DeviceRow> {
    const credentials = validateCredentials(input);
    const device = await this.#writable(id, principal);
    const tls = tlsOf(device);
    if (!tls)
      throw new BadUserInputError('This device was never enrolled: add it again with its TLS settings', 'id');
    const facts = await this.#reach(device.name, device.host, device.port, tls, credentials);
    const sealed = await this.#options.vault.seal(device.tenant_id, device.id, credentials);
    const updated = await this.#db.transaction().execute(async (trx) => {
      const row = await trx
        .updateTable('device')
        .set({
          credentials: sealed.sealed,
          credentials_key_version: sealed.keyVersion,
          identity: facts.identity,
          router_version: facts.version,
          board: facts.board,
          updated_at: sql<Date>`now()`,
        })
        .where('id', '=', device.id)
        .returningAll()
        .executeTakeFirst();
      if (!row) throw new NotFoundError('Device');
      await this.#record(trx, row, 'device.credentials-rotated', actorOf(principal));
      return row;
    });
    this.#options.onEvent();
    return updated;
  }

  /** Renames a device, or changes its site or tags; how the platform reaches it stays as it is. */
  async update(id: string, input: UpdateDeviceInput, principal: Principal): Promise<DeviceRow> {
    const device = await this.#writable(id, principal);
    const details = validateDeviceUpdate(
      { tenantId: device.tenant_id, name: device.name, site: device.site, tags: device.tags },
      input,
    );
    const { row } = await this.#describe(device, details, 'device.updated', actorOf(principal));
    return row;
  }

  /**
   * Audit's restore of a device (see the restore contract in the outbox package): brings back
   * what the device is called and where it belongs (name, site, tags) as they were in `state`,
   * as a new change recorded as `device.restored`. How the platform reaches the router (host,
   * port, TLS settings) and its credentials are never restored: they stay as they are now, since
   * the router's side of them may have changed since. A removed device cannot be restored, its
   * credentials are gone with it: it is enrolled again.
   */
  async restore(restore: RestoreRequest, principal: Principal): Promise<RestoreResult> {
    const device = await this.get(restore.aggregateId);
    if (!device) {
      const tenantId = restore.state.tenantId;
      const removed =
        isUuid(restore.aggregateId) &&
        typeof tenantId === 'string' &&
        hasScopeIn(principal, 'devices:write', tenantId) &&
        (await lastSequenceOf(outboxTablesOf(this.#db), 'device', restore.aggregateId.toLowerCase())) > 0;
      if (removed)
        throw new ConflictError(
          'This device was removed, and its credentials with it: enroll it again instead',
          'aggregateId',
        );
      throw new NotFoundError('Device');
    }
    if (!hasScopeIn(principal, 'devices:write', device.tenant_id)) throw new NotFoundError('Device');
    const last = await lastSequenceOf(outboxTablesOf(this.#db), 'device', device.id);
    if (restore.sequence > last)
      throw new BadUserInputError(
        `sequence ${restore.sequence} is beyond this device's history (its last change is ${last})`,
        'sequence',
      );
    if (restore.state.id !== device.id)
      throw new BadUserInputError('The state to restore is of another device', 'state.id');
    if (restore.state.tenantId !== device.tenant_id)
      throw new BadUserInputError('The state to restore is of another tenant', 'state.tenantId');
    const details = validateDeviceState(device.tenant_id, restore.state);
    const { row, eventId } = await this.#describe(device, details, 'device.restored', actorOf(principal));
    return { eventId, state: snapshot(row) };
  }

  async remove(id: string, principal: Principal): Promise<boolean> {
    const device = await this.#writable(id, principal);
    await this.#db.transaction().execute(async (trx) => {
      const removed = await trx
        .deleteFrom('device')
        .where('id', '=', device.id)
        .returningAll()
        .executeTakeFirst();
      if (!removed) throw new NotFoundError('Device');
      await trx
        .updateTable('tenant_devices')
        .set((eb) => ({ device_count: eb('device_count', '-', 1) }))
        .where('tenant_id', '=', removed.tenant_id)
        .where('device_count', '>', 0)
        .execute();
      await this.#record(trx, removed, 'device.removed', actorOf(principal));
    });
    this.#options.onEvent();
    return true;
  }

  /**
   * A client for a stored device: its address checked against the networks again, its
   * credentials opened, its TLS settings. The caller closes it. `limits` replaces the service's
   * timeouts (the status pollers use shorter ones).
   */
  async clientFor(device: DeviceRow, limits?: RouterClientOptions): Promise<RouterClient> {
    const tls = tlsOf(device);
    const credentials = await this.credentialsOf(device);
    if (!tls || !credentials)
      throw new BadUserInputError('This device was never enrolled: add it again', 'deviceId');
    const address = await this.#options.networks.addressOf(device.host);
    return new RouterClient(
      {
        name: device.name,
        host: address,
        port: device.port,
        username: credentials.username,
        password: credentials.password,
        tls: withServername(tls, device.host),
      },
      { ...this.#options.timeouts, maxConcurrentCalls: 4, ...limits },
    );
  }

  /** The credentials to reach a device with; undefined for a device never enrolled. */
  async credentialsOf(device: DeviceRow): Promise<RouterCredentials | undefined> {
    if (!device.credentials || device.credentials_key_version === null) return undefined;
    return this.#options.vault.open(device.tenant_id, device.id, {
      sealed: Buffer.from(device.credentials),
      keyVersion: device.credentials_key_version,
    });
  }

  async get(id: string): Promise<DeviceRow | undefined> {
    if (!isUuid(id)) return undefined;
    return this.#db.selectFrom('device').selectAll().where('id', '=', id.toLowerCase()).executeTakeFirst();
  }

  /** Devices by id, in the order of the ids; removed ones are left out. */
  async getMany(ids: readonly string[]): Promise<DeviceRow[]> {
    if (ids.length === 0) return [];
    const rows = await this.#db.selectFrom('device').selectAll().where('id', 'in', ids).execute();
    const byId = new Map(rows.map((row) => [row.id, row]));
    return ids.flatMap((id) => byId.get(id) ?? []);
  }

  async listByTenant(
    tenantId: string,
    filter: { site?: string | null; tag?: string | null } = {},
  ): Promise<DeviceRow[]> {
    if (!isUuid(tenantId)) return [];
    let query = this.#db.selectFrom('device').selectAll().where('tenant_id', '=', tenantId.toLowerCase());
    if (filter.site != null) query = query.where('site', '=', filter.site);
    if (filter.tag != null) query = query.where(sql<boolean>`${filter.tag.trim().toLowerCase()} = any(tags)`);
    return query.orderBy('name').execute();
  }

  /** A device the principal may change; another tenant's answers as an unknown one. */
  async #writable(id: string, principal: Principal): Promise<DeviceRow> {
    const device = await this.get(id);
    if (!device || !hasScopeIn(principal, 'devices:write', device.tenant_id))
      throw new NotFoundError('Device');
    return device;
  }

  /**
   * Sets what a device is called and where it belongs, and records the change as `type`, in one
   * transaction. A name another device of the tenant has is a conflict.
   */
  async #describe(
    device: DeviceRow,
    details: Pick<ValidDevice, 'name' | 'site' | 'tags'>,
    type: string,
    actor: EventActor,
  ): Promise<{ row: DeviceRow; eventId: string }> {
    let described: { row: DeviceRow; eventId: string };
    try {
      described = await this.#db.transaction().execute(async (trx) => {
        const row = await trx
          .updateTable('device')
          .set({ name: details.name, site: details.site, tags: details.tags, updated_at: sql<Date>`now()` })
          .where('id', '=', device.id)
          .returningAll()
          .executeTakeFirst();
        if (!row) throw new NotFoundError('Device');
        return { row, eventId: await this.#record(trx, row, type, actor) };
      });
    } catch (error) {
      // The unique (tenant, name) index: another device took the name, however recently.
      if ((error as { code?: string }).code === '23505')
        throw new ConflictError(`A device named "${details.name}" exists already in this tenant`, 'name');
      throw error;
    }
    this.#options.onEvent();
    return described;
  }

  /** Reaches the router, inside the networks the service may reach. */
  async #reach(
    name: string,
    host: string,
    port: number,
    tls: RouterTls,
    credentials: RouterCredentials,
  ): Promise<RouterFacts> {
    const address = await this.#options.networks.addressOf(host);
    return probeRouter({ name, address, host, port, tls }, credentials, this.#options.timeouts);
  }

  /**
   * Refuses early, before the router is contacted, when the tenant is already at its quota
   * (asking billing for the quota first when devices knows none).
   */
  async checkRoom(tenantId: string): Promise<void> {
    const { deviceCount, quota } = await this.#options.quotas.current(tenantId);
    if (deviceCount >= quota.devices) throw this.#options.quotas.quotaError(quota, deviceCount);
  }

  /**
   * Takes one place of the tenant's quota inside the creating transaction. The tenant's row is
   * locked first, so concurrent creations, and a quota billing pushes meanwhile, count one after
   * another and never pass it.
   */
  async #reserve(trx: Transaction<DevicesDatabase>, tenantId: string): Promise<void> {
    const { deviceCount, quota } = await this.#options.quotas.locked(trx, tenantId);
    if (deviceCount >= quota.devices) throw this.#options.quotas.quotaError(quota, deviceCount);
    await trx
      .updateTable('tenant_devices')
      .set((eb) => ({ device_count: eb('device_count', '+', 1) }))
      .where('tenant_id', '=', tenantId)
      .execute();
  }

  async #record(
    trx: Transaction<DevicesDatabase>,
    device: DeviceRow,
    type: string,
    actor: EventActor,
  ): Promise<string> {
    return recordEvent(outboxTablesOf(trx), {
      aggregateType: 'device',
      aggregateId: device.id,
      type,
      tenantId: device.tenant_id,
      actor,
      payload: snapshot(device),
    });
  }
}

function tlsColumns(tls: RouterTls) {
  return {
    tls_mode: tls.mode,
    tls_ca: tls.mode === 'verify' ? (Array.isArray(tls.ca) ? tls.ca.join('\n') : tls.ca) : null,
    tls_fingerprint: tls.mode === 'pinned' ? tls.fingerprint256 : null,
  };
}

/** How to secure the connection to a stored device; undefined when it was never enrolled. */
export function tlsOf(device: DeviceRow): RouterTls | undefined {
  switch (device.tls_mode) {
    case 'verify':
      return { mode: 'verify', ca: device.tls_ca ?? '' };
    case 'pinned':
      return { mode: 'pinned', fingerprint256: device.tls_fingerprint ?? '' };
    case 'anonymous-dh':
      return { mode: 'anonymous-dh' };
    case null:
      return undefined;
  }
}
