import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FormattedExecutionResult } from 'graphql';
import { HttpError, readBody, sendJson } from '@fleet/service-kit';
import { sendAuthenticationRefusal } from '../authentication/authentication-refusal.js';
import type { SubscriberStream } from './subscriber-stream.js';
import type { PresentedCredentials, SessionEnd, SubscriptionService } from './subscription-service.js';

export interface SseTransportOptions {
  service: SubscriptionService;
  maxBodyBytes: number;
  keepAliveMs: number;
}

/** Whether a request asks for an event stream: GraphQL over SSE rather than a JSON answer. */
export function wantsEventStream(req: IncomingMessage): boolean {
  return (req.headers.accept ?? '')
    .split(',')
    .some((type) => type.trim().split(';')[0] === 'text/event-stream');
}

/**
 * GraphQL over Server-Sent Events, in the protocol's distinct connections mode (graphql-sse):
 * for clients behind proxies that let no WebSocket through. Each request is one subscription:
 * a POST of `{ query, variables, operationName }` (or a GET with them as parameters) with
 * `Accept: text/event-stream`, authenticated by its headers as any HTTP request. Events go out
 * as `next`, the end as `complete`; a refused operation is a single `next` with `errors`, then
 * `complete`. When the credential expires or is revoked, a last `next` says so (code
 * UNAUTHENTICATED, with the reason) and the stream completes.
 *
 * The response is written one event at a time, each after the socket took the previous one, so
 * a slow client holds only its subscriber stream's bounded buffer.
 */
export function sseHandler(options: SseTransportOptions) {
  return async (req: IncomingMessage, res: ServerResponse, clientAddress: string): Promise<void> => {
    if (req.method !== 'GET' && req.method !== 'POST') {
      throw new HttpError(405, 'Subscriptions over SSE are a GET or a POST');
    }
    const payload = req.method === 'POST' ? await readJson(req, options.maxBodyBytes) : paramsOf(req);
    let stream: SubscriberStream | undefined;
    let ended: SessionEnd | undefined;
    const connected = await options.service.connect(credentialsOf(req), 'sse', clientAddress, (end) => {
      ended = end;
      if (stream) stream.end(endEvent(end));
      else res.destroy();
    });
    if (!connected.ok) {
      if (connected.status === 429) {
        sendJson(res, 429, { errors: [connected.error] });
        return;
      }
      sendAuthenticationRefusal(res, connected.status);
      return;
    }
    const { session } = connected;
    try {
      const subscribed = await session.subscribe(payload);
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      res.flushHeaders();
      if (!subscribed.ok) {
        await write(res, event('next', { errors: subscribed.errors }));
        await write(res, event('complete', null));
        res.end();
        return;
      }
      stream = subscribed.stream;
      if (ended) stream.end(endEvent(ended));
      await pipe(stream, res, options.keepAliveMs);
    } finally {
      session.close();
    }
  };
}

/** Writes the stream's events until either side ends. */
async function pipe(stream: SubscriberStream, res: ServerResponse, keepAliveMs: number): Promise<void> {
  const left = () => void stream.return();
  res.once('close', left);
  // The client may have left while its subscription was being admitted.
  if (res.destroyed) left();
  const keepAlive = setInterval(() => res.write(':\n\n'), keepAliveMs);
  try {
    for await (const result of stream) {
      if (!(await write(res, event('next', result)))) return;
    }
    if (res.writable) {
      await write(res, event('complete', null));
      res.end();
    }
  } finally {
    clearInterval(keepAlive);
    res.off('close', left);
    await stream.return();
  }
}

function event(name: 'next' | 'complete', data: FormattedExecutionResult | null): string {
  return `event: ${name}\ndata: ${data === null ? '' : JSON.stringify(data)}\n\n`;
}

function endEvent(end: SessionEnd): FormattedExecutionResult {
  return { errors: [{ message: end.message, extensions: { code: 'UNAUTHENTICATED', reason: end.reason } }] };
}

/** Writes one chunk and waits until the socket took it; false once the client is gone. */
function write(res: ServerResponse, chunk: string): Promise<boolean> {
  if (!res.writable) return Promise.resolve(false);
  return new Promise((resolve) => {
    res.write(chunk, (error) => resolve(!error));
  });
}

async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const body = await readBody(req, limit);
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    throw new HttpError(400, 'The body is not JSON');
  }
}

/** The operation of a GET: `query`, `operationName`, and `variables` as JSON. */
function paramsOf(req: IncomingMessage): unknown {
  const params = new URL(req.url ?? '/', 'http://gateway').searchParams;
  let variables: unknown = null;
  const rawVariables = params.get('variables');
  if (rawVariables) {
    try {
      variables = JSON.parse(rawVariables) as unknown;
    } catch {
      throw new HttpError(400, 'The variables are not JSON');
    }
  }
  return { query: params.get('query'), operationName: params.get('operationName'), variables };
}

function credentialsOf(req: IncomingMessage): PresentedCredentials {
  const credentials: PresentedCredentials = {};
  if (req.headers.authorization !== undefined) credentials.authorization = req.headers.authorization;
  const apiKey = req.headers['x-api-key'];
  if (apiKey !== undefined) credentials['x-api-key'] = Array.isArray(apiKey) ? apiKey.join(',') : apiKey;
  return credentials;
}
