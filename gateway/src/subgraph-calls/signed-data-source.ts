import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import type { GraphQLDataSource, GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import { GraphQLError } from 'graphql';
import { Pool } from 'undici';
import { sign } from '@fleet/request-signing';
import { encodePrincipal, type MutualTls } from '@fleet/service-kit';
import type { GatewayContext } from '../gateway-context.js';
import { postForText } from './post-for-text.js';

type SubgraphResponse = Awaited<ReturnType<GraphQLDataSource['process']>>;

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

/**
 * The gateway's connection to one subgraph. Every call carries the caller's principal, request
 * id and address, signed with this subgraph's own key, over a keep-alive undici pool.
 *
 * It speaks to the planner's executor directly (Apollo's `GraphQLDataSource`) rather than through
 * `RemoteGraphQLDataSource` and a fetch-shaped function: that path builds a fetch Request, two
 * Headers and a Response per call and reads the answer through web streams, which together cost
 * more than the call itself on a plan of many small fetches (bench/README.md, gateway profile).
 * The call itself goes through undici's handler interface (postForText), for the same reason.
 */
export class SignedDataSource implements GraphQLDataSource<GatewayContext> {
  readonly #pool: Pool;
  readonly #path: string;
  readonly #options: SignedDataSourceOptions;

  constructor(options: SignedDataSourceOptions) {
    const target = new URL(options.url);
    this.#pool = new Pool(target.origin, {
      connections: 64,
      pipelining: 1,
      keepAliveTimeout: 30_000,
      // A call's own limits are the pool's: no timer and no signal of its own per call.
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      maxResponseSize: options.maxResponseBytes,
      ...(options.tls ? { connect: options.tls.connector(options.name) } : {}),
    });
    this.#path = target.pathname + target.search;
    this.#options = options;
  }

  async process(options: GraphQLDataSourceProcessOptions<GatewayContext>): Promise<SubgraphResponse> {
    const { query, variables, operationName, extensions } = options.request;
    if (!query) throw new Error('Missing query');
    // Health checks and schema loads carry no request context: they are the gateway's own.
    const call = callOf(options.context);
    if (call.deadline !== undefined && Date.now() >= call.deadline) {
      throw new Error(`The request's deadline passed before ${this.#options.name} was called`);
    }
    const body = JSON.stringify({ query, variables, operationName, extensions });
    const signed = sign({
      caller: 'gateway',
      audience: this.#options.name,
      key: this.#options.key,
      method: 'POST',
      path: this.#path,
      body,
      principal: call.principal,
      requestId: call.requestId,
      clientAddress: call.clientAddress,
      now: Date.now(),
    });
    let answer;
    try {
      answer = await postForText(this.#pool, {
        path: this.#path,
        headers: { 'content-type': 'application/json', accept: 'application/json', ...signed },
        body,
        signal: call.signal,
      });
    } catch (error) {
      if (call.signal?.aborted) {
        throw new Error(`The request's deadline passed while ${this.#options.name} was answering`);
      }
      if ((error as { code?: unknown }).code === 'UND_ERR_RES_EXCEEDED_MAX_SIZE') {
        throw new Error(
          `${this.#options.name} answered with more than ${this.#options.maxResponseBytes} bytes`,
        );
      }
      throw error;
    }
    if (answer.statusCode < 200 || answer.statusCode > 299) {
      throw refusal(answer.statusCode, this.#options.name);
    }
    const { contentType } = answer;
    if (!/^application\/(graphql-response\+)?json/.test(contentType)) {
      throw new Error(`${this.#options.name} answered ${contentType || 'without a content type'}, not JSON`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(answer.text);
    } catch {
      // Never the parser's own message: it quotes the answer, which may hold anyone's data.
      throw new Error(`${this.#options.name} answered malformed JSON`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new Error(`${this.#options.name} answered JSON that is not a GraphQL response`);
    }
    return parsed;
  }

  async close(): Promise<void> {
    await this.#pool.close();
  }
}

/** A subgraph's non-2xx answer, as the planner reports a failed fetch. */
function refusal(status: number, subgraph: string): GraphQLError {
  const code = status === 401 ? 'UNAUTHENTICATED' : status === 403 ? 'FORBIDDEN' : undefined;
  return new GraphQLError(`${subgraph} answered ${status}`, {
    extensions: { ...(code ? { code } : {}), response: { status } },
  });
}

/** What every subgraph call of one request signs and obeys alike, worked out at its first call. */
interface RequestCall {
  principal: string;
  requestId: string;
  clientAddress: string;
  /** The request's deadline (milliseconds since the epoch); undefined for the gateway's own calls. */
  deadline: number | undefined;
  /** Aborts at the deadline. */
  signal: AbortSignal | undefined;
}

const calls = new WeakMap<object, RequestCall>();

function callOf(context: Partial<GatewayContext>): RequestCall {
  let call = calls.get(context);
  if (!call) {
    const deadline = context.deadline;
    const signal =
      deadline === undefined ? undefined : AbortSignal.timeout(Math.max(0, deadline - Date.now()));
    // Every call of the request in flight listens to it, a plan's parallel fetches at once.
    if (signal) setMaxListeners(0, signal);
    call = {
      principal: context.principal ? encodePrincipal(context.principal) : '',
      requestId: context.requestId ?? randomUUID(),
      clientAddress: context.clientAddress ?? '',
      deadline,
      signal,
    };
    calls.set(context, call);
  }
  return call;
}
