import { buildOperationContext } from '@apollo/gateway';
import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { operationFromDocument, Supergraph, type Operation, type Schema } from '@apollo/federation-internals';
import { QueryPlanner, type FetchNode, type PlanNode, type QueryPlan } from '@apollo/query-planner';
import type { DocumentNode, GraphQLError, GraphQLSchema } from 'graphql';
import { LruCache } from '@fleet/service-kit';

/** The name under which the per-event plan finds the event itself, never a subgraph's. */
export const EVENT_SOURCE = '(subscription event)';

type OperationContext = ReturnType<typeof buildOperationContext>;

/** A document as parsed and validated against the planner's schema, or why it cannot run. */
export type CheckedDocument = { document: DocumentNode } | { errors: GraphQLError[] };

/** How one subscription document runs. */
export interface SubscriptionPlan {
  /** The fetch to the subgraph that owns the subscription field: opened there as a subscription. */
  readonly primary: FetchNode;
  /**
   * The plan run for every event: the primary fetch, answered by the event (service
   * EVENT_SOURCE), then the rest of the plan: the other subgraphs' fields, fetched per event.
   */
  readonly perEvent: QueryPlan;
  readonly operationContext: OperationContext;
  /**
   * Set when the event is the whole answer (no other subgraph's fields, nothing to rewrite): the
   * operation each event's data is shaped by, built once rather than for every event.
   */
  readonly eventOnly?: Operation;
}

/**
 * Plans subscriptions with Apollo's own query planner, for one loaded supergraph. Apollo Gateway
 * plans a subscription as a primary fetch and a rest plan but refuses to execute it; the
 * subscription hub executes it event by event. Plans are cached by document text and operation
 * name, least recently used first out.
 */
export class SubscriptionPlanner {
  /** The graphql-js API schema Apollo serves: the one requests are validated against. */
  readonly apiSchema: GraphQLSchema;
  /** What executeQueryPlan needs of this supergraph besides a plan. */
  readonly supergraphSchema: GraphQLSchema;
  readonly federationApiSchema: Schema;
  /**
   * Documents by their text, parsed and validated once: the subscribers of one front end send
   * the same few documents, and one parsed copy then serves them all.
   */
  readonly documents: LruCache<string, CheckedDocument>;
  readonly #planner: QueryPlanner;
  readonly #plans: LruCache<string, SubscriptionPlan>;

  constructor(coreSupergraphSdl: string, apiSchema: GraphQLSchema, cacheSize: number) {
    const supergraph = Supergraph.build(coreSupergraphSdl);
    this.apiSchema = apiSchema;
    this.supergraphSchema = supergraph.schema.toGraphQLJSSchema();
    this.federationApiSchema = supergraph.apiSchema();
    this.#planner = new QueryPlanner(supergraph);
    this.documents = new LruCache(cacheSize);
    this.#plans = new LruCache(cacheSize);
  }

  /**
   * The plan of a validated subscription document; `text` is the document as the client sent
   * it, the cache key with the operation name. Throws when Apollo's planner cannot plan it.
   */
  plan(text: string, document: DocumentNode, operationName: string | null): SubscriptionPlan {
    return this.#plans.getOrSet(`${operationName ?? ''}\n${text}`, () =>
      this.#build(document, operationName),
    );
  }

  #build(document: DocumentNode, operationName: string | null): SubscriptionPlan {
    const operation = operationFromDocument(this.federationApiSchema, document, {
      operationName: operationName ?? undefined,
    });
    const queryPlan = this.#planner.buildQueryPlan(operation);
    const node = queryPlan.node;
    if (node?.kind !== 'Subscription') throw new Error('The planner did not plan a subscription');
    const fromEvent: FetchNode = { ...node.primary, serviceName: EVENT_SOURCE };
    const eventOnly = !node.rest && !node.primary.outputRewrites?.length;
    const perEventNode: PlanNode = node.rest
      ? { kind: 'Sequence', nodes: [fromEvent, node.rest] }
      : fromEvent;
    return {
      primary: node.primary,
      perEvent: { kind: 'QueryPlan', node: perEventNode },
      operationContext: buildOperationContext({
        schema: this.apiSchema,
        operationDocument: document,
        operationName: operationName ?? undefined,
      }),
      // A fresh copy: the planner may have rearranged the one it planned from.
      ...(eventOnly
        ? {
            eventOnly: operationFromDocument(this.federationApiSchema, document, {
              operationName: operationName ?? undefined,
              validate: false,
            }),
          }
        : {}),
    };
  }
}

/**
 * Keeps the planner of the supergraph Apollo serves: a new one with every supergraph Apollo
 * loads, so that subscriptions are planned against the schema they were validated against.
 */
export class CurrentPlanner {
  #planner: SubscriptionPlanner | undefined;
  readonly #cacheSize: number;
  readonly #onError: (error: unknown) => void;

  constructor(cacheSize: number, onError: (error: unknown) => void) {
    this.#cacheSize = cacheSize;
    this.#onError = onError;
  }

  get(): SubscriptionPlanner | undefined {
    return this.#planner;
  }

  plugin<Context extends BaseContext>(): ApolloServerPlugin<Context> {
    return {
      serverWillStart: () =>
        Promise.resolve({
          schemaDidLoadOrUpdate: ({ apiSchema, coreSupergraphSdl }) => {
            if (!coreSupergraphSdl) return;
            try {
              this.#planner = new SubscriptionPlanner(coreSupergraphSdl, apiSchema, this.#cacheSize);
            } catch (error) {
              // Queries go on; subscriptions are refused until a supergraph plans.
              this.#planner = undefined;
              this.#onError(error);
            }
          },
        }),
    };
  }
}
