import { RouterError } from '@fleet/router-api';
import {
  hasScopeIn,
  NotFoundError,
  ServiceUnavailableError,
  type Logger,
  type Principal,
} from '@fleet/service-kit';
import type { JobRow } from '../provisioning/job-store.js';
import { planChanges } from '../provisioning/plan.js';
import { readLiveState } from '../provisioning/provisioning.js';
import type { DeviceRegistry } from '../registry/device-registry.js';
import type { TemplateStore } from '../templates/template-store.js';
import type { DriftRow, DriftStore } from './drift-store.js';

/**
 * Drift detection: renders a device's desired state (its last succeeded job's template version
 * and variables), reads the router's live state and plans; changes in the plan mean the router
 * drifted from what the platform gave it. A router that cannot be reached leaves the state as
 * it was.
 */
export class DriftChecks {
  readonly #store: DriftStore;
  readonly #devices: DeviceRegistry;
  readonly #templates: TemplateStore;
  readonly #logger: Logger;

  constructor(parts: {
    store: DriftStore;
    devices: DeviceRegistry;
    templates: TemplateStore;
    logger: Logger;
  }) {
    this.#store = parts.store;
    this.#devices = parts.devices;
    this.#templates = parts.templates;
    this.#logger = parts.logger;
  }

  /** A device's drift as last found; undefined for a device never provisioned (unknown). */
  state(deviceId: string): Promise<DriftRow | undefined> {
    return this.#store.get(deviceId);
  }

  jobSucceeded(job: JobRow): Promise<void> {
    return this.#store.jobSucceeded(job);
  }

  /** Checks one device now; router failures are thrown as the router client's errors. */
  async check(drift: DriftRow): Promise<DriftRow> {
    const device = await this.#devices.get(drift.device_id);
    if (!device) return drift;
    const desired = await this.#templates.renderVersion(
      drift.template_id,
      drift.template_version,
      await this.#store.variablesOf(drift),
    );
    const client = await this.#devices.clientFor(device);
    try {
      const changes = planChanges(desired, await readLiveState(client, desired));
      return await this.#store.recordCheck(drift, changes);
    } finally {
      await client.close();
    }
  }

  /** The scheduled check: an unreachable router is tried again at the next one. */
  async scheduled(drift: DriftRow): Promise<void> {
    try {
      await this.check(drift);
    } catch (error) {
      if (!(error instanceof RouterError)) throw error;
      this.#logger.warn(
        { deviceId: drift.device_id, tenantId: drift.tenant_id, reason: error.message },
        'drift check skipped: the router could not be read',
      );
    }
  }

  /** A check on demand; a device never provisioned has nothing to drift from (undefined). */
  async checkNow(deviceId: string, principal: Principal): Promise<{ tenantId: string; drift?: DriftRow }> {
    const device = await this.#devices.get(deviceId);
    if (!device || !hasScopeIn(principal, 'devices:write', device.tenant_id))
      throw new NotFoundError('Device');
    const drift = await this.#store.get(device.id);
    if (!drift) return { tenantId: device.tenant_id };
    try {
      return { tenantId: device.tenant_id, drift: await this.check(drift) };
    } catch (error) {
      if (error instanceof RouterError) {
        throw new ServiceUnavailableError(
          `Could not check the router for drift: ${error.message.slice(error.router.length + 2)}`,
        );
      }
      throw error;
    }
  }
}
