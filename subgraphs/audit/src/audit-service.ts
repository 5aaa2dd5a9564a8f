import { applyMiddleware } from 'graphql-middleware';
import { join } from 'node:path';
import {
  HttpError,
  intervalTask,
  sendJson,
  startSubgraph,
  type Logger,
  type SignedRoute,
  type StartedService,
} from '@fleet/service-kit';
import { permissions } from './access/permissions.js';
import { ChainWriter, ReusedSequenceError } from './chain/chain-writer.js';
import { loadCheckpointSigner } from './chain/checkpoint-signer.js';
import type { AuditConfig } from './config.js';
import { migrations } from './database/migrations.js';
import type { AuditDatabase } from './database/schema.js';
import { FEED_PATH, feedRoute } from './feed/event-feed.js';
import { validateEvents } from './ingest/validate-events.js';
import type { AuditContext } from './audit-context.js';
import { resolvers } from './resolvers.js';
import type { EntityOwners } from './restore/entity-owners.js';
import { RetentionPolicy } from './retention/retention-policy.js';
import { RetentionSealer } from './retention/retention-sealer.js';

export function startAudit(config: AuditConfig, logger: Logger): Promise<StartedService> {
  const producerKeys = new Map<string, Buffer>([
    ['aaa', config.KEY_AAA],
    ['devices', config.KEY_DEVICES],
    ['billing', config.KEY_BILLING],
  ]);
  const signer = loadCheckpointSigner({
    configuredKey: config.CHECKPOINT_KEY,
    retiredPublicKeys: config.CHECKPOINT_RETIRED_KEYS,
    dataDir: config.DATA_DIR,
  });
  return startSubgraph<AuditDatabase, AuditContext>({
    name: 'audit',
    config,
    logger,
    migrations,
    schema: new URL('../schema.graphql', import.meta.url),
    resolvers,
    wrapSchema: (schema) => applyMiddleware(schema, permissions),
    peerUrls: { DEVICES_URL: config.DEVICES_URL, BILLING_URL: config.BILLING_URL },
    setup: (db, { tls }) => {
      const owners: EntityOwners = new Map([
        ['devices', { url: config.DEVICES_URL, key: config.KEY_DEVICES, tls }],
        ['billing', { url: config.BILLING_URL, key: config.KEY_BILLING, tls }],
      ]);
      const chain = new ChainWriter(db, signer, { checkpointEveryEvents: config.CHECKPOINT_EVERY_EVENTS });
      const retention = new RetentionPolicy(
        db,
        config.RETENTION_DEFAULT_DAYS === 0 ? null : config.RETENTION_DEFAULT_DAYS,
      );
      const sealer = new RetentionSealer(db, chain, retention, {
        sealDir: config.SEAL_DIR ?? join(config.DATA_DIR, 'seals'),
        maxEventsPerSeal: config.RETENTION_MAX_EVENTS_PER_SEAL,
        logger,
      });
      const workers = [
        intervalTask({
          name: 'sign a checkpoint',
          everyMs: config.CHECKPOINT_INTERVAL_S * 1_000,
          logger,
          run: async () => {
            await chain.checkpoint();
          },
        }),
        intervalTask({
          name: 'enforce audit retention',
          everyMs: config.RETENTION_INTERVAL_S * 1_000,
          logger,
          run: async () => {
            await sealer.enforce();
          },
        }),
      ];
      return {
        context: (request) => ({
          db,
          request,
          signer,
          chain,
          retention,
          sealer,
          owners,
          exportMaxPositions: config.EXPORT_MAX_POSITIONS,
        }),
        routes: {
          '/ingest': ingestRoute(chain, producerKeys),
          // Billing meters devices' events from here, signed with the key of its pair with audit.
          [FEED_PATH]: feedRoute(db, new Map([['billing', config.KEY_BILLING]])),
        },
        workers,
      };
    },
  });
}

/** POST /ingest: a producer's signed batch of events, appended once each to the chain. */
function ingestRoute(chain: ChainWriter, keys: ReadonlyMap<string, Buffer>): SignedRoute {
  return {
    keys,
    async handle(request, body, res) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(body.toString('utf8'));
      } catch {
        throw new HttpError(400, 'Malformed JSON in request body');
      }
      const batch = validateEvents(parsed, request.caller);
      if ('error' in batch) throw new HttpError(400, batch.error);
      let result;
      try {
        result = await chain.append(batch.events);
      } catch (error) {
        if (error instanceof ReusedSequenceError) throw new HttpError(409, error.message);
        throw error;
      }
      request.logger.info({ source: request.caller, ...result }, 'events ingested');
      sendJson(res, 200, result);
    },
  };
}
