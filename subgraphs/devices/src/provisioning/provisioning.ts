import type { RouterClient, Row } from '@fleet/router-api';
import { hasScopeIn, NotFoundError, type Principal } from '@fleet/service-kit';
import type { DeviceRegistry, DeviceRow } from '../registry/device-registry.js';
import type { DesiredMenu } from '../templates/template-spec.js';
import type { TemplateRow, TemplateStore } from '../templates/template-store.js';
import { planChanges, type PlannedChange } from './plan.js';

export interface ProvisioningPlan {
  device: DeviceRow;
  template: TemplateRow;
  version: number;
  changes: PlannedChange[];
}

/** Reads, from the router, every menu the desired state names. */
export async function readLiveState(
  client: RouterClient,
  desired: readonly DesiredMenu[],
): Promise<Map<string, Row[]>> {
  const live = new Map<string, Row[]>();
  for (const { menu } of desired) live.set(menu.path, await client.print(menu.path));
  return live;
}

/**
 * Plans a device against a template version with the device's values: reads the router's live
 * state of the template's menus and answers the changes that would bring it there, touching
 * nothing.
 */
export class Provisioning {
  readonly #devices: DeviceRegistry;
  readonly #templates: TemplateStore;

  constructor(devices: DeviceRegistry, templates: TemplateStore) {
    this.#devices = devices;
    this.#templates = templates;
  }

  async plan(
    input: { deviceId: string; templateId: string; version?: number | null; variables?: unknown },
    principal: Principal,
  ): Promise<ProvisioningPlan> {
    const device = await this.#devices.get(input.deviceId);
    if (!device || !hasScopeIn(principal, 'devices:read', device.tenant_id))
      throw new NotFoundError('Device');
    const template = await this.#templates.get(input.templateId, principal);
    if (!template || template.tenantId !== device.tenant_id) throw new NotFoundError('Template');
    const { version, desired } = await this.#templates.render(
      template.id,
      input.version,
      input.variables,
      principal,
    );
    const client = await this.#devices.clientFor(device);
    try {
      const live = await readLiveState(client, desired);
      return { device, template, version, changes: planChanges(desired, live) };
    } finally {
      await client.close();
    }
  }
}
