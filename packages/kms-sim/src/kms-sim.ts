import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { FaultState, type KmsSimFaults } from './faults.js';
import { KeyStore } from './key-store.js';
import { KmsError } from './kms-error.js';
import { operations } from './operations.js';

export interface KmsSimOptions {
  /** 0 or unset: an ephemeral port, kept across stop() and start(). */
  port?: number;
}

/** A running simulator and the handles tests drive it with. */
export interface KmsSim {
  /** The endpoint to give the SDK: http://127.0.0.1:<port>. */
  readonly url: string;
  /** Creates a symmetric key and returns its ARN, as the CreateKey operation would. */
  createKey(): string;
  /** Disables a key, by key id or ARN: it then refuses to encrypt, decrypt or generate. */
  disableKey(id: string): void;
  enableKey(id: string): void;
  /** Adds a material version, as RotateKeyOnDemand does: new blobs use it, old ones still open. */
  rotateKey(id: string): void;
  readonly faults: KmsSimFaults;
  /** Requests received per operation, throttled ones included, since start or resetCalls(). */
  calls(): Record<string, number>;
  resetCalls(): void;
  /** Closes the listener and every connection: clients then see "connection refused", as with KMS down. */
  stop(): Promise<void>;
  /** Listens again on the same port after stop(); keys are kept. */
  start(): Promise<void>;
}

const CONTENT_TYPE = 'application/x-amz-json-1.1';
const TARGET_PREFIX = 'TrentService.';
/** Far above any request KMS itself accepts. */
const MAX_BODY_BYTES = 1024 * 1024;

/**
 * Starts a local server speaking the AWS KMS JSON 1.1 protocol, for tests and benchmarks that
 * drive the real AWS SDK. It listens on 127.0.0.1 only. Request signatures are not checked: any
 * credentials will do. Keys live in memory and are lost with the process.
 */
export async function startKmsSim(options: KmsSimOptions = {}): Promise<KmsSim> {
  const keys = new KeyStore();
  const faults = new FaultState();
  let counts: Record<string, number> = {};
  // Aborted by stop(), so answers held back by latency end with the server.
  let stopping = new AbortController();

  const server = createServer((req, res) => {
    void answer(req, res);
  });

  async function answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const target = req.headers['x-amz-target'];
      const name =
        typeof target === 'string' && target.startsWith(TARGET_PREFIX)
          ? target.slice(TARGET_PREFIX.length)
          : '';
      const operation = Object.hasOwn(operations, name) ? operations[name] : undefined;
      if (req.method !== 'POST' || req.url !== '/' || !operation) {
        req.resume();
        throw new KmsError('UnknownOperationException', 'The operation is not supported');
      }
      const body = await readBody(req);
      counts[name] = (counts[name] ?? 0) + 1;
      if (faults.latencyMs > 0) await sleep(faults.latencyMs, undefined, { signal: stopping.signal });
      if (faults.takeThrottle()) throw new KmsError('ThrottlingException', 'Rate exceeded');
      if (!req.headers['content-type']?.startsWith(CONTENT_TYPE)) {
        throw new KmsError('SerializationException', `Content-Type must be ${CONTENT_TYPE}`);
      }
      reply(res, 200, operation(keys, parseBody(body)));
    } catch (error) {
      if (stopping.signal.aborted) return;
      if (error instanceof KmsError) {
        reply(res, 400, { __type: error.type, message: error.message }, error.type);
      } else {
        reply(
          res,
          500,
          { __type: 'KMSInternalException', message: 'Internal error' },
          'KMSInternalException',
        );
      }
    }
  }

  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });

  await listen(options.port ?? 0);
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}`,
    createKey: () => keys.create().arn,
    disableKey: (id) => {
      keys.get(id).enabled = false;
    },
    enableKey: (id) => {
      keys.get(id).enabled = true;
    },
    rotateKey: (id) => {
      keys.rotate(id);
    },
    faults,
    calls: () => ({ ...counts }),
    resetCalls: () => {
      counts = {};
    },
    stop: async () => {
      if (!server.listening) return;
      stopping.abort();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
    start: async () => {
      if (server.listening) return;
      stopping = new AbortController();
      await listen(port);
    },
  };
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    req.on('data', (chunk: Buffer) => {
      length += chunk.length;
      if (length > MAX_BODY_BYTES) {
        req.destroy();
        reject(new KmsError('ValidationException', 'The request is too large'));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function parseBody(body: Buffer): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
  } catch {
    throw new KmsError('SerializationException', 'The request body is not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new KmsError('SerializationException', 'The request body must be a JSON object');
  }
  return parsed as Record<string, unknown>;
}

function reply(res: ServerResponse, status: number, body: Record<string, unknown>, errorType?: string): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': CONTENT_TYPE,
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': randomUUID(),
    ...(errorType ? { 'x-amzn-errortype': errorType } : {}),
  });
  res.end(text);
}
