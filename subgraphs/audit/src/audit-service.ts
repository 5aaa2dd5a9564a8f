import { applyMiddleware } from 'graphql-middleware';
import {
  HttpError,
  sendJson,
  startSubgraph,
  type Logger,
  type SignedRoute,
  type StartedService,
} from '@fleet/service-kit';
import { permissions } from './access/permissions.js';
import { ChainWriter, ReusedSequenceError } from './chain/chain-writer.js';
import { loadCheckpointSigner } from './chain/checkpoint-signer.js';
import { CheckpointTimer } from './chain/checkpoint-timer.js';
import type { AuditConfig } from './config.js';
import { migrations } from './database/migrations.js';
import type { AuditDatabase } from './database/schema.js';
import { validateEvents } from './ingest/validate-events.js';
import { resolvers, type AuditContext } from './resolvers.js';

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
    setup: (db) => {
      const chain = new ChainWriter(db, signer, { checkpointEveryEvents: config.CHECKPOINT_EVERY_EVENTS });
      const timer = new CheckpointTimer(chain, config.CHECKPOINT_INTERVAL_S * 1_000, logger);
      return {
        context: (request) => ({ db, request, signer }),
        routes: { '/ingest': ingestRoute(chain, producerKeys) },
        workers: [timer],
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
