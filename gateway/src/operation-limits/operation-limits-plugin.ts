import type { ApolloServerPlugin } from '@apollo/server';
import type { GatewayContext } from '../gateway-context.js';
import { checkCost, type OperationLimitConfig } from './operation-limits.js';

/** Refuses operations whose estimated cost is over the limit, after validation, before planning. */
export function operationCostPlugin(config: OperationLimitConfig): ApolloServerPlugin<GatewayContext> {
  return {
    requestDidStart: () =>
      Promise.resolve({
        didResolveOperation: ({ schema, document, operation, request }) => {
          if (operation) checkCost(schema, document, operation, request.variables, config);
          return Promise.resolve();
        },
      }),
  };
}
