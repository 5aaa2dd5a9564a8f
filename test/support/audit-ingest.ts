import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { IngestBody, OutboxEvent } from '@fleet/outbox';
import { createLogger, readBody, SignatureCheck } from '@fleet/service-kit';
import { eventually } from './test-federation.js';
import { testPki } from './test-pki.js';

export interface AuditIngest {
  /** Base URL, for the producer's `*_AUDIT_URL`. */
  readonly url: string;
  /** Every event received so far, in the order received. */
  readonly events: readonly OutboxEvent[];
  /** The event of this id, once it has arrived. */
  event(id: string): Promise<OutboxEvent>;
  close(): Promise<void>;
}

/**
 * A stand-in for audit's `/ingest`, for a test that runs one producing service on its own: over
 * mutual TLS with audit's certificate, it checks the producer's signature with the pair's key,
 * as audit does, and keeps what it gets.
 */
export async function startAuditIngest(producer: string, key: Buffer): Promise<AuditIngest> {
  const events: OutboxEvent[] = [];
  const tls = (await testPki()).tls('audit');
  const signatures = new SignatureCheck({
    audience: 'audit',
    logger: createLogger({ service: 'audit', level: 'silent' }),
    mutualTls: true,
  });
  const server = createServer(tls.serverOptions(), (req, res) => {
    void (async () => {
      const body = await readBody(req, 10_000_000);
      try {
        signatures.check(req, body, new Map([[producer, key]]));
      } catch {
        res.writeHead(401).end();
        return;
      }
      events.push(...(JSON.parse(body.toString('utf8')) as IngestBody).events);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    })();
  });
  tls.guard(server, new Set([producer]));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    events,
    event: (id) => eventually(() => events.find((event) => event.id === id)),
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
