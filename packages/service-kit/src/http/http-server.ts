import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type ServerOptions as HttpsOptions } from 'node:https';
import type { AddressInfo } from 'node:net';
import { GraphQLError } from 'graphql';
import { ErrorCode } from '../errors/errors.js';
import type { Logger } from '../logging/logger.js';

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

const CODES: Record<number, string> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHENTICATED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  500: 'INTERNAL_SERVER_ERROR',
  503: 'SERVICE_UNAVAILABLE',
};

/** An error whose status and message are meant for the client. */
export class HttpError extends Error {
  readonly status: number;
  /** The code the body carries; by default the status's own (`BAD_REQUEST` for 400). */
  readonly code: string;

  constructor(status: number, message: string, code?: string) {
    super(message);
    this.status = status;
    this.code = code ?? CODES[status] ?? 'ERROR';
  }

  /** The answer's body: the GraphQL error shape, so clients read every refusal alike. */
  toBody(): { errors: { message: string; extensions: { code: string } }[] } {
    return { errors: [{ message: this.message, extensions: { code: this.code } }] };
  }
}

/** The statuses of the GraphQL errors a plain HTTP endpoint passes on as they are. */
const STATUS_OF_CODE: Record<string, number> = {
  [ErrorCode.badUserInput]: 400,
  [ErrorCode.forbidden]: 403,
  [ErrorCode.notFound]: 404,
  [ErrorCode.conflict]: 409,
  [ErrorCode.unavailable]: 503,
};

/**
 * The refusal a domain error makes at an endpoint other than /graphql: a BadUserInputError is a
 * 400, a NotFoundError a 404 and so on, with the error's own message and code. Undefined for any
 * other error, which the server answers as an internal one.
 */
export function httpErrorOf(error: unknown): HttpError | undefined {
  if (!(error instanceof GraphQLError)) return undefined;
  const code = String(error.extensions.code);
  const status = STATUS_OF_CODE[code];
  return status === undefined ? undefined : new HttpError(status, error.message, code);
}

/**
 * An HTTP server whose handler may throw: an HttpError answers with its status and message,
 * anything else with a bare 500 (logged here, never shown to the client). With `tls`, it serves
 * HTTPS only.
 */
export function createHttpServer(handler: RequestHandler, logger: Logger, tls?: HttpsOptions): Server {
  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    handler(req, res).catch((error: unknown) => {
      if (error instanceof HttpError) {
        sendJson(res, error.status, error.toBody());
        return;
      }
      logger.error({ err: error, path: req.url }, 'request failed');
      sendJson(res, 500, new HttpError(500, 'Internal server error').toBody());
    });
  };
  const server = tls ? createHttpsServer(tls, listener) : createServer(listener);
  server.headersTimeout = 30_000;
  server.requestTimeout = 60_000;
  server.keepAliveTimeout = 65_000;
  return server;
}

export async function listen(server: Server, host: string, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

/**
 * Stops accepting connections, lets requests in flight finish (up to `graceMs`), then closes
 * whatever is left.
 */
export async function closeGracefully(server: Server, graceMs: number): Promise<void> {
  if (!server.listening) return;
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const timer = setTimeout(() => server.closeAllConnections(), graceMs);
  timer.unref();
  await closed;
  clearTimeout(timer);
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...headers,
  });
  res.end(text);
}

/** Reads the whole body, refusing (413) one larger than `limit` bytes without buffering it. */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) {
    req.resume();
    throw new HttpError(413, `Request body is larger than ${limit} bytes`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      req.resume();
      throw new HttpError(413, `Request body is larger than ${limit} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** The request's path without the query string. */
export function pathnameOf(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}
