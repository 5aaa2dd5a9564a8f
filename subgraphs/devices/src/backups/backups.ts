import { RouterError, RouterTrapError, type RouterClient, type Row } from '@fleet/router-api';
import { actorOf, type EventActor } from '@fleet/outbox';
import {
  BadUserInputError,
  hasScopeIn,
  NotFoundError,
  ServiceUnavailableError,
  type Logger,
  type Principal,
} from '@fleet/service-kit';
import type { BackupReason } from '../database/schema.js';
import type { DeviceRegistry, DeviceRow } from '../registry/device-registry.js';
import { MENUS } from '../templates/template-menus.js';
import { diffSnapshots, type MenuDiff } from './backup-diff.js';
import type { BackupRow, BackupStore } from './backup-store.js';
import { normalizeSnapshot } from './snapshot.js';

const SYSTEM: EventActor = { kind: 'system', id: null };

/**
 * Configuration backups: a snapshot of every menu templates know, read from the router and
 * normalized (see snapshot.ts), taken after each successful job, on a schedule and on demand;
 * and the differences between any two snapshots of a device.
 */
export class Backups {
  readonly #store: BackupStore;
  readonly #devices: DeviceRegistry;
  readonly #logger: Logger;

  constructor(parts: { store: BackupStore; devices: DeviceRegistry; logger: Logger }) {
    this.#store = parts.store;
    this.#devices = parts.devices;
    this.#logger = parts.logger;
  }

  /** Reads the router's managed menus and stores the snapshot; with `client`, over that connection. */
  async take(
    device: DeviceRow,
    taken: { reason: BackupReason; jobId?: string | null; actor?: EventActor },
    client?: RouterClient,
  ): Promise<BackupRow> {
    const own = client ?? (await this.#devices.clientFor(device));
    try {
      const content = normalizeSnapshot(await readManagedMenus(own));
      return await this.#store.record(device, content, {
        reason: taken.reason,
        jobId: taken.jobId ?? null,
        actor: taken.actor ?? SYSTEM,
      });
    } finally {
      if (!client) await own.close();
    }
  }

  /** A backup on demand; a router that cannot be reached answers why, and nothing is stored. */
  async backupDevice(id: string, principal: Principal): Promise<BackupRow> {
    const device = await this.#devices.get(id);
    if (!device || !hasScopeIn(principal, 'devices:write', device.tenant_id))
      throw new NotFoundError('Device');
    if (!device.credentials)
      throw new BadUserInputError('This device was never enrolled: add it again', 'id');
    try {
      return await this.take(device, { reason: 'manual', actor: actorOf(principal) });
    } catch (error) {
      if (error instanceof RouterError) {
        throw new ServiceUnavailableError(
          `Could not back up the router: ${error.message.slice(error.router.length + 2)}`,
        );
      }
      throw error;
    }
  }

  /** The scheduled backup of a device: an unreachable router is left for the next time. */
  async scheduled(device: DeviceRow): Promise<void> {
    try {
      await this.take(device, { reason: 'scheduled' });
    } catch (error) {
      if (!(error instanceof RouterError)) throw error;
      this.#logger.warn(
        { deviceId: device.id, tenantId: device.tenant_id, reason: error.message },
        'scheduled backup skipped: the router could not be read',
      );
    }
  }

  /** A backup the principal may read; another tenant's answers as an unknown one. */
  async get(id: string, principal: Principal): Promise<BackupRow | undefined> {
    const backup = await this.#store.get(id);
    return backup && hasScopeIn(principal, 'devices:read', backup.tenant_id) ? backup : undefined;
  }

  listByDevice(deviceId: string, limit: number): Promise<BackupRow[]> {
    return this.#store.listByDevice(deviceId, limit);
  }

  content(backup: BackupRow) {
    return this.#store.content(backup);
  }

  /** What changed from one snapshot to a later (or earlier) one of the same device. */
  async diff(
    fromId: string,
    toId: string,
    principal: Principal,
  ): Promise<{ from: BackupRow; to: BackupRow; menus: MenuDiff[] }> {
    const from = await this.get(fromId, principal);
    if (!from) throw new NotFoundError('Backup');
    const to = await this.get(toId, principal);
    if (!to) throw new NotFoundError('Backup');
    if (from.device_id !== to.device_id)
      throw new BadUserInputError('Both backups must be of the same device', 'toId');
    if (from.digest === to.digest) return { from, to, menus: [] };
    return { from, to, menus: diffSnapshots(await this.content(from), await this.content(to)) };
  }
}

/**
 * Every menu templates know, as the router prints it. A menu the router refuses to print (its
 * package is not installed) is left out of the snapshot; losing the connection fails it.
 */
export async function readManagedMenus(client: RouterClient): Promise<Map<string, Row[]>> {
  const live = new Map<string, Row[]>();
  for (const menu of MENUS) {
    try {
      live.set(menu.path, await client.print(menu.path));
    } catch (error) {
      if (!(error instanceof RouterTrapError)) throw error;
    }
  }
  return live;
}
