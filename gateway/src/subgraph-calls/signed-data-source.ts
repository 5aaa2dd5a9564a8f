import { randomUUID } from 'node:crypto';
import { RemoteGraphQLDataSource, type GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import { Pool } from 'undici';
import { sign, SignedHeaders } from '@fleet/request-signing';
import { encodePrincipal, type MutualTls } from '@fleet/service-kit';
import type { GatewayContext } from '../gateway-context.js';

export interface SignedDataSourceOptions {
  /** The subgraph's name: the audience of the signatures. */
  name: string;
  url: string;
  /** The key of the gateway/subgraph pair. */
  key: Buffer;
  /** Longest a single call may take (the request's own deadline may cut it shorter). */
  timeoutMs: number;
  /** Largest answer read from the subgraph; a longer one fails the call. */
  maxResponseBytes: number;
  /** The gateway's mutual TLS: each connection proves the subgraph is `name`, and the gateway the gateway. */
  tls: MutualTls | undefined;
}

/** Carries the request's deadline from the context to the fetcher; never sent. */
const DEADLINE_HEADER = 'x-fleet-deadline';

/**
 * The gateway's connection to one subgraph. Every fetch carries the caller's principal, request
 * id and address, signed with this subgraph's own key. Requests go over a keep-alive undici pool:
 * the default fetcher costs a quarter of the gateway's CPU.
 */
export class SignedDataSource extends RemoteGraphQLDataSource<GatewayContext> {
  readonly #pool: Pool;

  constructor(options: SignedDataSourceOptions) {
    const target = new URL(options.url);
    const pool = new Pool(target.origin, {
      connections: 64,
      pipelining: 1,
      keepAliveTimeout: 30_000,
      ...(options.tls ? { connect: options.tls.connector(options.name) } : {}),
    });
    super({ url: options.url, fetcher: signingFetcher(pool, options) });
    this.#pool = pool;
  }

  override willSendRequest(options: GraphQLDataSourceProcessOptions<GatewayContext>): void {
    const { request } = options;
    // Health checks and schema loads carry no request context: they are the gateway's own.
    const context: Partial<GatewayContext> = options.context;
    const principal = context.principal ? encodePrincipal(context.principal) : '';
    const requestId = context.requestId ?? randomUUID();
    request.http?.headers.set(SignedHeaders.principal, principal);
    request.http?.headers.set(SignedHeaders.requestId, requestId);
    request.http?.headers.set(SignedHeaders.clientAddress, context.clientAddress ?? '');
    if (context.deadline !== undefined) request.http?.headers.set(DEADLINE_HEADER, String(context.deadline));
  }

  async close(): Promise<void> {
    await this.#pool.close();
  }
}

type Fetcher = RemoteGraphQLDataSource['fetcher'];

function signingFetcher(pool: Pool, options: SignedDataSourceOptions): Fetcher {
  return async (url, init = {}) => {
    const target = new URL(url);
    const path = target.pathname + target.search;
    const method = init.method ?? 'POST';
    const body = init.body ?? '';
    const { [DEADLINE_HEADER]: deadline, ...headers } = init.headers ?? {};
    // Each call ends at its own timeout or at the request's deadline, whichever comes first.
    const timeoutMs = Math.min(options.timeoutMs, deadline ? Number(deadline) - Date.now() : Infinity);
    if (!(timeoutMs > 0)) throw new Error(`The request's deadline passed before ${options.name} was called`);
    const signed = sign({
      caller: 'gateway',
      audience: options.name,
      key: options.key,
      method,
      path,
      body,
      principal: headers[SignedHeaders.principal] ?? '',
      requestId: headers[SignedHeaders.requestId] ?? randomUUID(),
      clientAddress: headers[SignedHeaders.clientAddress] ?? '',
      now: Date.now(),
    });
    const signals = [AbortSignal.timeout(timeoutMs), ...(init.signal ? [init.signal as AbortSignal] : [])];
    const response = await pool.request({
      path,
      method: method,
      headers: { ...headers, ...signed },
      body,
      signal: AbortSignal.any(signals),
    });
    const text = await readLimited(response.body, options.maxResponseBytes, options.name);
    const responseHeaders = new Headers();
    for (const [name, value] of Object.entries(response.headers)) {
      if (value === undefined) continue;
      for (const v of Array.isArray(value) ? value : [value]) responseHeaders.append(name, v);
    }
    return new Response(text, { status: response.statusCode, headers: responseHeaders });
  };
}

/** Reads an answer as text, refusing (and dropping the connection) past `maxBytes`. */
async function readLimited(
  body: AsyncIterable<Buffer> & { destroy(error?: Error): void },
  maxBytes: number,
  subgraph: string,
): Promise<string> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of body) {
    length += chunk.length;
    if (length > maxBytes) {
      const error = new Error(`${subgraph} answered with more than ${maxBytes} bytes`);
      body.destroy(error);
      throw error;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
