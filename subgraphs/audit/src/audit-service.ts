import { applyMiddleware } from 'graphql-middleware';
import type { Kysely } from 'kysely';
import {
  HttpError,
  sendJson,
  startSubgraph,
  type Logger,
  type SignedRoute,
  type StartedService,
} from '@fleet/service-kit';
import { permissions } from './access/permissions.js';
import type { AuditConfig } from './config.js';
import { migrations } from './database/migrations.js';
import type { AuditDatabase } from './database/schema.js';
import { appendEvents } from './ingest/append-events.js';
import { validateEvents } from './ingest/validate-events.js';
import { resolvers, type AuditContext } from './resolvers.js';

export function startAudit(config: AuditConfig, logger: Logger): Promise<StartedService> {
  const producerKeys = new Map<string, Buffer>([
    ['aaa', config.KEY_AAA],
    ['devices', config.KEY_DEVICES],
    ['billing', config.KEY_BILLING],
  ]);
  return startSubgraph<AuditDatabase, AuditContext>({
    name: 'audit',
    config,
    logger,
    migrations,
    schema: new URL('../schema.graphql', import.meta.url),
    resolvers,
    wrapSchema: (schema) => applyMiddleware(schema, permissions),
    setup: (db) => ({
      context: (request) => ({ db, request }),
      routes: { '/ingest': ingestRoute(db, producerKeys) },
    }),
  });
}

/** POST /ingest: a producer's signed batch of events, appended once each to the chain. */
function ingestRoute(db: Kysely<AuditDatabase>, keys: ReadonlyMap<string, Buffer>): SignedRoute {
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
      const result = await appendEvents(db, batch.events);
      request.logger.info({ source: request.caller, ...result }, 'events ingested');
      sendJson(res, 200, result);
    },
  };
}
