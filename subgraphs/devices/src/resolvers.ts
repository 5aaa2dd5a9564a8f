import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper/index.js';
import { hasScopeIn, type SignedRequest } from '@fleet/service-kit';
import type { CreateDeviceInput } from './registry/device-input.js';
import type { DeviceRegistry, DeviceRow } from './registry/device-registry.js';

export interface DevicesContext {
  devices: DeviceRegistry;
  request: SignedRequest;
}

function toGraphQL(device: DeviceRow) {
  return {
    id: device.id,
    name: device.name,
    host: device.host,
    port: device.port,
    tenant: { id: device.tenant_id },
    createdAt: device.created_at.toISOString(),
  };
}

export const resolvers: GraphQLResolverMap<DevicesContext> = {
  Query: {
    // Another tenant's device answers as an unknown one does: its existence is not told.
    device: async (_: unknown, args: { id: string }, { devices, request }: DevicesContext) => {
      const device = await devices.get(args.id);
      if (!device || !hasScopeIn(request.principal, 'devices:read', device.tenant_id)) return null;
      return toGraphQL(device);
    },
    devices: async (_: unknown, args: { tenantId: string }, { devices }: DevicesContext) =>
      (await devices.listByTenant(args.tenantId)).map(toGraphQL),
  },
  Mutation: {
    createDevice: async (
      _: unknown,
      args: { input: CreateDeviceInput },
      { devices, request }: DevicesContext,
    ) => toGraphQL(await devices.create(args.input, request.principal)),
  },
  Device: {
    __resolveReference: async (reference: { id: string }, { devices }: DevicesContext) => {
      const device = await devices.get(reference.id);
      return device ? toGraphQL(device) : null;
    },
  },
  Tenant: {
    __resolveReference: (reference: { id: string }) => ({ id: reference.id }),
    devices: async (tenant: { id: string }, _: unknown, { devices }: DevicesContext) =>
      (await devices.listByTenant(tenant.id)).map(toGraphQL),
  },
};
