import { randomUUID } from 'node:crypto';
import { executeQueryPlan, type GraphQLDataSource, type ServiceMap } from '@apollo/gateway';
// Apollo's own result shaping, the last step of executeQueryPlan (the versions are pinned).
import { computeResponse } from '@apollo/gateway/dist/resultShaping.js';
import type { Operation } from '@apollo/federation-internals';
import type { GatewayGraphQLRequestContext, GatewayGraphQLResponse } from '@apollo/server-gateway-interface';
import type { FormattedExecutionResult, GraphQLFormattedError } from 'graphql';
import { encodePrincipal, maskError, type Logger, type Principal } from '@fleet/service-kit';
import type { GatewayContext } from '../gateway-context.js';
import { EVENT_SOURCE, type SubscriptionPlan, type SubscriptionPlanner } from './subscription-planner.js';
import { SubscriberStream } from './subscriber-stream.js';
import type { UpstreamConnections, UpstreamEvent } from './upstream-connections.js';
import { UpstreamSubscription } from './upstream-subscription.js';

/** One admitted subscription, ready to run. */
export interface SubscriptionRequest {
  planner: SubscriptionPlanner;
  plan: SubscriptionPlan;
  /** The operation's variables, coerced (so that equal values have equal keys). */
  variables: Record<string, unknown>;
  operationName: string | null;
  principal: Principal;
  clientAddress: string;
  logger: Logger;
}

export interface SubscriptionHubOptions {
  connections: UpstreamConnections;
  /** The gateway's signed data sources, by subgraph name: the rest of each plan runs through them. */
  dataSources: ServiceMap;
  /** Events held per subscriber, and per shared subscription while one is being resolved. */
  bufferSize: number;
  retryMaxMs: number;
  /** How long the subgraph calls of one event may take in all. */
  eventDeadlineMs: number;
  logger: Logger;
}

/** Subscribers of one operation, with the same variables, on behalf of the same principal. */
interface SharedSubscription {
  readonly key: string;
  /** The shared subscriptions of the same plan, by key: where this one is found. */
  readonly siblings: Map<string, SharedSubscription>;
  readonly request: SubscriptionRequest;
  readonly subscribers: Set<SubscriberStream>;
  readonly upstream: UpstreamSubscription;
  readonly pending: UpstreamEvent[];
  resolving: boolean;
  /** Set when the subgraph ended it: the subscribers end once the pending events are out. */
  ended?: { last?: FormattedExecutionResult };
}

/**
 * Runs federated subscriptions, whatever protocol their clients speak. For each subscription
 * the plan's primary fetch is opened on the subgraph that owns the field, on behalf of the
 * subscriber; for every event the per-event plan runs through Apollo's executeQueryPlan, the
 * event answering the primary fetch and every other field fetched from its subgraph with the
 * subscriber's principal, so each entity fetch is authorized per event.
 *
 * Identical subscriptions (same plan, same variables, same principal) share one subgraph
 * subscription and one resolution per event; only people and keys with exactly the same identity
 * share, so no one ever receives what was resolved for somebody else.
 */
export class SubscriptionHub {
  readonly #options: SubscriptionHubOptions;
  readonly #shared = new WeakMap<SubscriptionPlan, Map<string, SharedSubscription>>();
  readonly #all = new Set<SharedSubscription>();

  constructor(options: SubscriptionHubOptions) {
    this.#options = options;
  }

  /** Subscriptions open on the subgraphs now (shared ones count once). */
  get upstreamCount(): number {
    return this.#all.size;
  }

  /** A stream of the subscription's events; `onClose` runs once when it ends, either side. */
  subscribe(request: SubscriptionRequest, onClose: () => void): SubscriberStream {
    const principal = encodePrincipal(request.principal);
    const key = `${principal}\n${JSON.stringify(request.variables)}`;
    let byKey = this.#shared.get(request.plan);
    if (!byKey) {
      byKey = new Map();
      this.#shared.set(request.plan, byKey);
    }
    const shared = byKey.get(key) ?? this.#open(key, principal, request, byKey);
    const stream = new SubscriberStream(this.#options.bufferSize, () => {
      this.#leave(shared, stream);
      onClose();
    });
    shared.subscribers.add(stream);
    return stream;
  }

  /** Ends every subscription (the gateway is stopping). */
  close(): void {
    for (const shared of [...this.#all]) {
      shared.upstream.stop();
      for (const subscriber of [...shared.subscribers]) subscriber.end();
    }
    this.#all.clear();
  }

  #open(
    key: string,
    principal: string,
    request: SubscriptionRequest,
    byKey: Map<string, SharedSubscription>,
  ): SharedSubscription {
    const { primary } = request.plan;
    const variables: Record<string, unknown> = {};
    for (const name of primary.variableUsages ?? []) {
      if (request.variables[name] !== undefined) variables[name] = request.variables[name];
    }
    const shared: SharedSubscription = {
      key,
      siblings: byKey,
      request,
      subscribers: new Set(),
      pending: [],
      resolving: false,
      upstream: new UpstreamSubscription({
        connections: this.#options.connections,
        subgraph: primary.serviceName,
        payload: { query: primary.operation, operationName: primary.operationName ?? null, variables },
        identity: {
          principal,
          requestId: randomUUID(),
          clientAddress: request.clientAddress,
        },
        retryMaxMs: this.#options.retryMaxMs,
        logger: request.logger,
        handlers: {
          event: (event) => this.#received(shared, event),
          failed: (errors) =>
            this.#ended(shared, {
              errors: errors.map((error) => publicError(error as GraphQLFormattedError, request.logger)),
            }),
          completed: () => this.#ended(shared),
        },
      }),
    };
    byKey.set(key, shared);
    this.#all.add(shared);
    shared.upstream.start();
    return shared;
  }

  #leave(shared: SharedSubscription, stream: SubscriberStream): void {
    shared.subscribers.delete(stream);
    if (shared.subscribers.size > 0) return;
    shared.upstream.stop();
    shared.pending.length = 0;
    this.#forget(shared);
  }

  #forget(shared: SharedSubscription): void {
    if (shared.siblings.get(shared.key) === shared) shared.siblings.delete(shared.key);
    this.#all.delete(shared);
  }

  /** The subgraph ended the subscription: so do its subscribers, after the events before the end. */
  #ended(shared: SharedSubscription, last?: FormattedExecutionResult): void {
    shared.ended = { last };
    // Whoever subscribes from now on opens a subscription of their own.
    this.#forget(shared);
    if (!shared.resolving) this.#endSubscribers(shared);
  }

  #endSubscribers(shared: SharedSubscription): void {
    for (const subscriber of [...shared.subscribers]) subscriber.end(shared.ended?.last);
  }

  #received(shared: SharedSubscription, event: UpstreamEvent): void {
    // Events wait while an earlier one is resolved; past the buffer, the oldest go.
    if (shared.pending.length >= this.#options.bufferSize) shared.pending.shift();
    shared.pending.push(event);
    if (!shared.resolving) void this.#resolvePending(shared);
  }

  async #resolvePending(shared: SharedSubscription): Promise<void> {
    shared.resolving = true;
    try {
      for (let event = shared.pending.shift(); event; event = shared.pending.shift()) {
        if (shared.subscribers.size === 0) break;
        const result = await this.#resolve(shared.request, event);
        for (const subscriber of shared.subscribers) subscriber.push(result);
      }
    } finally {
      shared.resolving = false;
    }
    if (shared.ended) this.#endSubscribers(shared);
  }

  /** One event, completed by the rest of the plan, as its subscribers receive it. */
  async #resolve(request: SubscriptionRequest, event: UpstreamEvent): Promise<FormattedExecutionResult> {
    if (request.plan.eventOnly) return shaped(request, request.plan.eventOnly, event);
    const context: GatewayContext = {
      principal: request.principal,
      requestId: randomUUID(),
      logger: request.logger,
      clientAddress: request.clientAddress,
      trustedDocuments: null,
      deadline: Date.now() + this.#options.eventDeadlineMs,
      quotas: [],
    };
    const fromEvent: GraphQLDataSource = {
      process: () => Promise.resolve(event as GatewayGraphQLResponse),
    };
    const requestContext = {
      request: { variables: request.variables, operationName: request.operationName ?? undefined },
      context,
      logger: request.logger,
      metrics: {},
      operationName: request.operationName,
    } as unknown as GatewayGraphQLRequestContext<GatewayContext>;
    try {
      const result = await executeQueryPlan(
        request.plan.perEvent,
        { ...this.#options.dataSources, [EVENT_SOURCE]: fromEvent },
        requestContext,
        request.plan.operationContext,
        request.planner.supergraphSchema,
        request.planner.federationApiSchema,
      );
      if (!result.errors?.length) return { data: result.data ?? null };
      return {
        data: result.data ?? null,
        errors: result.errors.map((error) => publicError(formatted(error, request.logger), request.logger)),
      };
    } catch (error) {
      request.logger.error({ err: error }, 'could not resolve a subscription event');
      return { data: null, errors: [publicError({ message: 'Internal server error' }, request.logger)] };
    }
  }
}

/**
 * An event that is the whole answer, shaped into the client's selection as executeQueryPlan
 * shapes results (aliases, fragments, `@skip`/`@include`, nulls), without running a plan for it.
 * As there, a value that does not complete becomes null; the event's own errors go with it.
 */
function shaped(
  request: SubscriptionRequest,
  operation: Operation,
  event: UpstreamEvent,
): FormattedExecutionResult {
  const { data } = computeResponse({
    operation,
    variables: request.variables,
    input: event.data ?? null,
    // A subscription selects no introspection field but __typename, which is shaped in place.
    introspectionHandling: () => null,
  });
  if (!event.errors?.length) return { data: data ?? null };
  return { data: data ?? null, errors: event.errors.map((error) => publicError(error, request.logger)) };
}

/**
 * An error of the plan's execution as GraphQL formats it. A subgraph's errors are GraphQL errors;
 * a failed fetch (a subgraph down) is a plain error, logged here and masked as internal.
 */
function formatted(error: unknown, logger: Logger): GraphQLFormattedError {
  if (
    typeof error === 'object' &&
    error !== null &&
    'toJSON' in error &&
    typeof error.toJSON === 'function'
  ) {
    return (error as { toJSON(): GraphQLFormattedError }).toJSON();
  }
  logger.warn({ err: error }, 'a subgraph call of a subscription event failed');
  return { message: 'Internal server error' };
}

/** An error as clients may see it: a stable code and a safe message; the rest is logged. */
function publicError(error: GraphQLFormattedError, logger: Logger): GraphQLFormattedError {
  const masked = maskError(error);
  if (masked.extensions?.code === 'INTERNAL_SERVER_ERROR') {
    logger.error({ error: { message: error.message, path: error.path } }, 'subscription event failed');
  }
  return masked;
}
