import { applyMiddleware } from 'graphql-middleware';
import { keyProviderFromConfig } from '@fleet/envelope';
import { createOutboxRelay } from '@fleet/outbox';
import { startSubgraph, type Logger, type StartedService } from '@fleet/service-kit';
import { permissions } from './access/permissions.js';
import type { DevicesConfig } from './config.js';
import { CredentialVault } from './credentials/credential-vault.js';
import { migrations } from './database/migrations.js';
import type { DevicesDatabase } from './database/schema.js';
import { enrollmentRoutes } from './enrollment/enrollment-route.js';
import { Enrollments } from './enrollment/enrollments.js';
import { DeviceRegistry } from './registry/device-registry.js';
import { resolvers, type DevicesContext } from './resolvers.js';
import { JobStore } from './provisioning/job-store.js';
import { JobWorker } from './provisioning/job-worker.js';
import { Provisioning } from './provisioning/provisioning.js';
import { RolloutStore } from './rollouts/rollout-store.js';
import { RolloutWorker } from './rollouts/rollout-worker.js';
import { RouterNetworks } from './routers/router-networks.js';
import { TemplateStore } from './templates/template-store.js';

export function startDevices(config: DevicesConfig, logger: Logger): Promise<StartedService> {
  return startSubgraph<DevicesDatabase, DevicesContext>({
    name: 'devices',
    config,
    logger,
    migrations,
    schema: new URL('../schema.graphql', import.meta.url),
    resolvers,
    wrapSchema: (schema) => applyMiddleware(schema, permissions),
    setup: async (db) => {
      const relay = createOutboxRelay(db, 'devices', config, logger);
      const provider = await keyProviderFromConfig(config, 'devices');
      const vault = new CredentialVault(db, provider, {
        ttlMs: config.VAULT_CACHE_TTL_MS,
        maxEntries: config.VAULT_CACHE_MAX_ENTRIES,
      });
      const networks = new RouterNetworks(config.ROUTER_NETWORKS);
      const timeouts = {
        connectTimeoutMs: config.ROUTER_CONNECT_TIMEOUT_MS,
        callTimeoutMs: config.ROUTER_CALL_TIMEOUT_MS,
      };
      const onEvent = () => relay.notify();
      const devices = new DeviceRegistry(db, {
        vault,
        networks,
        timeouts,
        maxDevicesPerTenant: config.MAX_DEVICES_PER_TENANT,
        onEvent,
      });
      const enrollments = new Enrollments(db, {
        registry: devices,
        vault,
        networks,
        timeouts,
        enrollUrl: config.ENROLL_URL,
        onEvent,
      });
      const templates = new TemplateStore(db, onEvent);
      const provisioning = new Provisioning(devices, templates);
      const jobs = new JobStore(db, { devices, templates, onEvent });
      const worker = new JobWorker({
        jobs,
        devices,
        templates,
        logger: logger.child({ component: 'provisioning-jobs' }),
        concurrency: config.JOB_CONCURRENCY,
        perTenant: config.JOB_PER_TENANT,
        pollMs: config.JOB_POLL_MS,
        leaseMs: config.JOB_LEASE_MS,
        backoffMs: config.JOB_BACKOFF_MS,
        maxBackoffMs: config.JOB_MAX_BACKOFF_MS,
        maxAttempts: config.JOB_MAX_ATTEMPTS,
        revertAfterSeconds: config.SAFE_APPLY_REVERT_S,
      });
      const rollouts = new RolloutStore(db, { devices, templates, jobs, onEvent });
      const rolloutWorker = new RolloutWorker({
        rollouts,
        logger: logger.child({ component: 'rollouts' }),
        pollMs: config.ROLLOUT_POLL_MS,
      });
      return {
        context: (request) => ({ devices, enrollments, templates, provisioning, jobs, rollouts, request }),
        workers: [relay, worker, rolloutWorker],
        routes: enrollmentRoutes(config.KEY_GATEWAY, enrollments),
      };
    },
  });
}
