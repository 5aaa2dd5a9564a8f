import { applyMiddleware } from 'graphql-middleware';
import { keyProviderFromConfig } from '@fleet/envelope';
import { createOutboxRelay } from '@fleet/outbox';
import { startSubgraph, type Logger, type StartedService } from '@fleet/service-kit';
import { permissions } from './access/permissions.js';
import { ApiKeyStore } from './api-keys/api-key-store.js';
import { ensureFirstAdmin } from './bootstrap/first-admin.js';
import { LoginThrottle } from './brute-force/login-throttle.js';
import { pruneWorker } from './brute-force/prune-worker.js';
import type { AaaConfig } from './config.js';
import { SecretDigests } from './credentials/secret-digests.js';
import { migrations } from './database/migrations.js';
import type { AaaDatabase } from './database/schema.js';
import { gatewayRoutes } from './internal/gateway-routes.js';
import { MemberDirectory } from './members/member-directory.js';
import { MfaEnrollment } from './mfa/mfa-enrollment.js';
import { PasswordHasher } from './passwords/password-hasher.js';
import { resolvers, type AaaContext } from './resolvers.js';
import { Login } from './sessions/login.js';
import { SessionStore } from './sessions/session-store.js';
import { TenantDirectory } from './tenants/tenant-directory.js';
import { PiiVault } from './vault/pii-vault.js';

// The AWS SDK must never look for credentials on the cloud metadata host: aaa passes them.
process.env.AWS_EC2_METADATA_DISABLED = 'true';

export function startAaa(config: AaaConfig, logger: Logger): Promise<StartedService> {
  return startSubgraph<AaaDatabase, AaaContext>({
    name: 'aaa',
    config,
    logger,
    migrations,
    schema: new URL('../schema.graphql', import.meta.url),
    resolvers,
    wrapSchema: (schema) => applyMiddleware(schema, permissions),
    peerUrls: { AUDIT_URL: config.AUDIT_URL },
    setup: async (db, { tls }) => {
      const relay = createOutboxRelay(db, 'aaa', config, logger, tls);
      const onEvent = () => relay.notify();
      const provider = await keyProviderFromConfig(config, 'aaa');
      const vault = new PiiVault(db, provider, {
        cacheTtlMs: config.VAULT_CACHE_TTL_MS,
        cacheMaxEntries: config.VAULT_CACHE_MAX_ENTRIES,
        onEvent,
      });
      const digests = new SecretDigests(config.SECRET_KEY, config.API_KEY_PEPPER);
      const hasher = new PasswordHasher({
        memoryCost: config.ARGON2_MEMORY_KIB,
        timeCost: config.ARGON2_TIME_COST,
      });
      const tenants = new TenantDirectory(db, vault, onEvent);
      const sessions = new SessionStore(db, {
        tokenKeys: config.TOKEN_KEYS,
        digests,
        accessTokenTtlSeconds: config.ACCESS_TOKEN_TTL_S,
        sessionTtlMs: config.SESSION_TTL_H * 3_600_000,
        refreshGraceMs: config.REFRESH_GRACE_MS,
        onEvent,
      });
      const members = new MemberDirectory(db, { tenants, vault, hasher, digests, sessions, onEvent });
      const throttle = new LoginThrottle(db);
      const login = new Login(db, {
        tenants,
        vault,
        hasher,
        throttle,
        digests,
        sessions,
        onEvent,
      });
      const mfa = new MfaEnrollment(db, { vault, members, hasher, digests, onEvent });
      const apiKeys = new ApiKeyStore(db, { tenants, digests, onEvent });
      await ensureFirstAdmin({
        tenants,
        members,
        email: config.BOOTSTRAP_ADMIN_EMAIL,
        dataDir: config.DATA_DIR,
        logger,
      });
      return {
        context: (request) => ({
          request,
          principal: request.principal,
          tenants,
          members,
          sessions,
          login,
          mfa,
          apiKeys,
          vault,
        }),
        routes: gatewayRoutes(config.KEY_GATEWAY, { sessions, apiKeys }),
        workers: [relay, pruneWorker(throttle, logger)],
      };
    },
  });
}
