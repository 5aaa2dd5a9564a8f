import type { Principal } from '@fleet/service-kit';
import type { LiveStatus } from './live-status.js';
import type { DeviceStatus } from './status-tracker.js';

/** What the status resolvers need of the request's context. */
export interface StatusContext {
  live: LiveStatus;
  /** The status of a device, read in batches within one request. */
  statusOf: (device: { id: string; tenantId: string }) => Promise<DeviceStatus>;
  request: { principal: Principal };
}

/** A status as the API shows it; `tenantId` is for the rules, which check it on every event. */
export function statusToGraphQL(status: DeviceStatus) {
  return {
    ...status,
    state: status.state.toUpperCase(),
  };
}

export const statusResolvers = {
  Subscription: {
    deviceStatusChanged: {
      subscribe: async (
        _: unknown,
        args: { deviceId?: string | null; tenantId?: string | null },
        { live, request }: StatusContext,
      ) =>
        map(await live.statuses(args, request.principal), (status) => ({
          deviceStatusChanged: statusToGraphQL(status),
        })),
    },
    jobProgress: {
      subscribe: async (
        _: unknown,
        args: { jobId?: string | null; deviceId?: string | null; tenantId?: string | null },
        { live, request }: StatusContext,
      ) => map(await live.jobSteps(args, request.principal), (event) => ({ jobProgress: event })),
    },
  },
  Device: {
    status: async (device: { id: string; tenant: { id: string } }, _: unknown, { statusOf }: StatusContext) =>
      statusToGraphQL(await statusOf({ id: device.id, tenantId: device.tenant.id })),
  },
};

/** The iterator's values turned by `turn`; ending it ends the source. */
function map<T, R>(source: AsyncIterableIterator<T>, turn: (value: T) => R): AsyncIterableIterator<R> {
  return {
    async next() {
      const result = await source.next();
      return result.done ? { value: undefined, done: true } : { value: turn(result.value), done: false };
    },
    async return() {
      await source.return?.();
      return { value: undefined, done: true };
    },
    async throw(error: unknown) {
      await source.return?.();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
