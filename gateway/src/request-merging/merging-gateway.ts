import type { ApolloServerOptionsWithGateway } from '@apollo/server';
import { GraphQLError } from 'graphql';
import type { GatewayContext } from '../gateway-context.js';
import { InFlightExecutions } from './in-flight-executions.js';
import { mergeKeyOf } from './merge-key.js';

/** What Apollo Server is handed as its gateway: schema loading and the executor. */
export type GatewayInterface = NonNullable<ApolloServerOptionsWithGateway<GatewayContext>['gateway']>;
export type GatewayExecutor = NonNullable<Awaited<ReturnType<GatewayInterface['load']>>['executor']>;
export type ExecutionResult = Awaited<ReturnType<GatewayExecutor>>;

/**
 * The gateway with request merging: identical queries of one authorization scope in flight at
 * the same time share one execution (query plan and subgraph calls; see merge-key.ts for what
 * identical means). Every request has passed all of its own checks and charges before it reaches
 * the executor; only the execution is shared. Subgraph calls carry the leader's request id; a
 * follower logs, at debug, the request it merged into.
 */
export function mergingGateway(gateway: GatewayInterface): GatewayInterface {
  return {
    onSchemaLoadOrUpdate: (callback) => gateway.onSchemaLoadOrUpdate(callback),
    stop: () => gateway.stop(),
    load: async (options) => {
      const loaded = await gateway.load(options);
      return loaded.executor ? { ...loaded, executor: mergingExecutor(loaded.executor) } : loaded;
    },
  };
}

/** An executor that shares executions of identical requests in flight (see mergingGateway). */
export function mergingExecutor(
  executor: GatewayExecutor,
  executions: InFlightExecutions<ExecutionResult> = new InFlightExecutions<ExecutionResult>({
    copy: ownCopy,
    deadlinePassed,
  }),
): GatewayExecutor {
  return (requestContext) => {
    const context = requestContext.context as GatewayContext;
    const key = mergeKeyOf({
      schema: requestContext.schema,
      document: requestContext.document,
      operation: requestContext.operation,
      queryHash: requestContext.queryHash,
      operationName: requestContext.request.operationName ?? null,
      variables: requestContext.request.variables,
      context,
    });
    if (key === null) return executor(requestContext);
    return executions.run(
      key,
      context,
      () => executor(requestContext),
      ({ leaderRequestId }) =>
        context.logger.debug({ mergedInto: leaderRequestId }, 'merged into an identical request in flight'),
    );
  };
}

/** A response's own result: its errors and extensions are its own to format. */
export function ownCopy(result: ExecutionResult): ExecutionResult {
  return {
    ...result,
    ...(result.errors ? { errors: [...result.errors] } : {}),
    ...(result.extensions ? { extensions: { ...result.extensions } } : {}),
  };
}

/** A follower's answer when its own deadline passes first: as its own subgraph calls would fail. */
function deadlinePassed(): ExecutionResult {
  return {
    errors: [new GraphQLError("The request's deadline passed before the request it merged into was done")],
  };
}
