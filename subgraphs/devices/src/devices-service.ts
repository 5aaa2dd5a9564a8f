import { applyMiddleware } from 'graphql-middleware';
import { keyProviderFromConfig } from '@fleet/envelope';
import { createOutboxRelay, restoreRoute } from '@fleet/outbox';
import { redisTlsOptions, startSubgraph, type Logger, type StartedService } from '@fleet/service-kit';
import { permissions } from './access/permissions.js';
import type { DevicesConfig } from './config.js';
import { CredentialVault } from './credentials/credential-vault.js';
import { Backups } from './backups/backups.js';
import { BackupStore } from './backups/backup-store.js';
import { migrations } from './database/migrations.js';
import type { DevicesDatabase } from './database/schema.js';
import { enrollmentRoutes } from './enrollment/enrollment-route.js';
import { billingLookup } from './entitlements/billing-lookup.js';
import { entitlementRoute } from './entitlements/entitlement-route.js';
import { TenantEntitlements } from './entitlements/tenant-entitlements.js';
import { Enrollments } from './enrollment/enrollments.js';
import { DriftChecks } from './drift/drift-checks.js';
import { DriftStore } from './drift/drift-store.js';
import { DeviceRegistry } from './registry/device-registry.js';
import { resolvers, type DevicesContext } from './resolvers.js';
import { JobStore } from './provisioning/job-store.js';
import { JobWorker } from './provisioning/job-worker.js';
import { Provisioning } from './provisioning/provisioning.js';
import { RolloutStore } from './rollouts/rollout-store.js';
import { RolloutWorker } from './rollouts/rollout-worker.js';
import { RouterNetworks } from './routers/router-networks.js';
import { PeriodicWorker } from './scheduling/periodic-worker.js';
import { TemplateStore } from './templates/template-store.js';
import type { EventBus } from './status/event-bus/event-bus.js';
import { MemoryEventBus } from './status/event-bus/memory-event-bus.js';
import { RedisEventBus } from './status/event-bus/redis-event-bus.js';
import { LiveStatus } from './status/live-status.js';
import { LocalOwnership } from './status/ownership/local-ownership.js';
import type { PollOwnership } from './status/ownership/poll-ownership.js';
import { RedisOwnership } from './status/ownership/redis-ownership.js';
import { StatusPoller } from './status/status-poller.js';
import { statusLoader, StatusStore } from './status/status-store.js';

export function startDevices(config: DevicesConfig, logger: Logger): Promise<StartedService> {
  return startSubgraph<DevicesDatabase, DevicesContext>({
    name: 'devices',
    config,
    logger,
    migrations,
    schema: new URL('../schema.graphql', import.meta.url),
    resolvers,
    wrapSchema: (schema) => applyMiddleware(schema, permissions),
    subscriptions: true,
    peerUrls: { AUDIT_URL: config.AUDIT_URL, BILLING_URL: config.BILLING_URL },
    setup: async (db, { tls }) => {
      const relay = createOutboxRelay(db, 'devices', config, logger, tls);
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
      const { bus, ownership } = liveParts(config, logger);
      const fleet: { poller?: StatusPoller } = {};
      const onEvent = () => {
        relay.notify();
        // A device added or removed is polled, or let go, without waiting for the next round.
        fleet.poller?.refresh();
      };
      const quotas = new TenantEntitlements(db, {
        ...(config.BILLING_URL
          ? { lookup: billingLookup({ baseUrl: config.BILLING_URL, key: config.KEY_BILLING, tls }) }
          : {}),
        defaultQuota: config.MAX_DEVICES_PER_TENANT,
        logger: logger.child({ component: 'entitlements' }),
      });
      const devices = new DeviceRegistry(db, { vault, networks, timeouts, quotas, onEvent });
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
      const statuses = new StatusStore(db);
      const live = new LiveStatus({ bus, devices, jobs, buffer: config.STATUS_SUBSCRIBER_BUFFER });
      const poller = new StatusPoller({
        db,
        devices,
        store: statuses,
        bus,
        ownership,
        logger: logger.child({ component: 'status-poller' }),
        intervalMs: config.STATUS_INTERVAL_MS,
        timeoutMs: config.STATUS_TIMEOUT_MS,
        hysteresis: { offlineAfter: config.STATUS_OFFLINE_AFTER, onlineAfter: config.STATUS_ONLINE_AFTER },
        roundMs: Math.min(config.STATUS_INTERVAL_MS, config.POLL_LEASE_MS / 3),
      });
      fleet.poller = poller;
      const backupStore = new BackupStore(db, { keep: config.BACKUP_KEEP, onEvent });
      const backups = new Backups({
        store: backupStore,
        devices,
        logger: logger.child({ component: 'backups' }),
      });
      const driftStore = new DriftStore(db, { intervalSeconds: config.DRIFT_INTERVAL_S, onEvent });
      const drift = new DriftChecks({
        store: driftStore,
        devices,
        templates,
        logger: logger.child({ component: 'drift' }),
      });
      const worker = new JobWorker({
        jobs,
        devices,
        templates,
        logger: logger.child({ component: 'provisioning-jobs' }),
        concurrency: config.JOB_CONCURRENCY,
        perTenant: config.JOB_PER_TENANT,
        total: config.JOB_TOTAL,
        pollMs: config.JOB_POLL_MS,
        leaseMs: config.JOB_LEASE_MS,
        backoffMs: config.JOB_BACKOFF_MS,
        maxBackoffMs: config.JOB_MAX_BACKOFF_MS,
        maxAttempts: config.JOB_MAX_ATTEMPTS,
        revertAfterSeconds: config.SAFE_APPLY_REVERT_S,
        onProgress: (progress) => live.publishJobProgress(progress),
        // After a success the router is as its job wants it: in sync, and worth a snapshot.
        onSucceeded: async (job, client) => {
          await drift.jobSucceeded(job);
          const device = await devices.get(job.device_id);
          if (device) await backups.take(device, { reason: 'after-apply', jobId: job.id }, client);
        },
      });
      const rollouts = new RolloutStore(db, { devices, templates, jobs, onEvent });
      const rolloutWorker = new RolloutWorker({
        rollouts,
        logger: logger.child({ component: 'rollouts' }),
        pollMs: config.ROLLOUT_POLL_MS,
      });
      const scheduledBackups = new PeriodicWorker({
        name: 'scheduled backups',
        logger: logger.child({ component: 'backups' }),
        pollMs: Math.min(config.BACKUP_INTERVAL_S * 1000, 30_000),
        concurrency: config.BACKUP_CONCURRENCY,
        claim: async (limit) => {
          await backupStore.sweep();
          return backupStore.claimDue(config.BACKUP_INTERVAL_S, limit);
        },
        run: (device) => backups.scheduled(device),
      });
      const driftChecks = new PeriodicWorker({
        name: 'drift checks',
        logger: logger.child({ component: 'drift' }),
        pollMs: Math.min(config.DRIFT_INTERVAL_S * 1000, 30_000),
        concurrency: config.BACKUP_CONCURRENCY,
        claim: (limit) => driftStore.claimDue(limit),
        run: (row) => drift.scheduled(row),
      });
      return {
        context: (request) => ({
          devices,
          enrollments,
          templates,
          provisioning,
          jobs,
          rollouts,
          backups,
          drift,
          live,
          statusOf: statusLoader(statuses),
          request,
        }),
        workers: [
          relay,
          worker,
          rolloutWorker,
          scheduledBackups,
          driftChecks,
          poller,
          { start: () => undefined, stop: () => bus.close() },
        ],
        routes: {
          ...enrollmentRoutes(config.KEY_GATEWAY, enrollments),
          // Billing's word on each tenant's plan, signed with the key of their pair.
          ...entitlementRoute(config.KEY_BILLING, quotas),
          // Audit's restores, signed with the key devices ships its events to audit with.
          ...restoreRoute(config.KEY_AUDIT, {
            device: (restore, request) => devices.restore(restore, request.principal),
          }),
        },
      };
    },
  });
}

/** In memory for one process; through Redis when the replicas share one. */
function liveParts(config: DevicesConfig, logger: Logger): { bus: EventBus; ownership: PollOwnership } {
  if (!config.REDIS_URL) return { bus: new MemoryEventBus(), ownership: new LocalOwnership() };
  const redis = {
    url: config.REDIS_URL,
    tls: redisTlsOptions(config.REDIS_URL, config.REDIS_CA_FILE, 'DEVICES_REDIS_CA_FILE'),
    namespace: config.REDIS_NAMESPACE,
    logger,
  };
  return {
    bus: new RedisEventBus(redis),
    ownership: new RedisOwnership({ ...redis, leaseMs: config.POLL_LEASE_MS }),
  };
}
