import { HeaderMap, type ApolloServerPlugin } from '@apollo/server';
import { GraphQLError } from 'graphql';
import type { GatewayContext } from '../gateway-context.js';
import { rootFieldsRefusedToAnonymous } from './anonymous-allow-list.js';

/**
 * Confines anonymous callers to the allow-list of root fields. It runs in didResolveOperation:
 * after the document is parsed and validated, before the gateway plans it, so a refused
 * operation never reaches a subgraph. Callers with credentials pass untouched (the subgraphs
 * check what each of them may do).
 */
export function anonymousAccessPlugin(options: {
  introspection: boolean;
}): ApolloServerPlugin<GatewayContext> {
  return {
    requestDidStart: () =>
      Promise.resolve({
        didResolveOperation: ({ contextValue, document, request }) => {
          if (contextValue.principal.kind !== 'anonymous') return Promise.resolve();
          const refused = rootFieldsRefusedToAnonymous(document, request.operationName, options);
          if (refused.length === 0) return Promise.resolve();
          contextValue.logger.info({ fields: refused.slice(0, 10) }, 'refused an anonymous operation');
          return Promise.reject(authenticationRequired());
        },
      }),
  };
}

/** The refusal of an operation that needs credentials the caller did not present. */
export function authenticationRequired(): GraphQLError {
  return new GraphQLError('Authentication required', {
    extensions: {
      code: 'UNAUTHENTICATED',
      http: { status: 401, headers: new HeaderMap([['www-authenticate', 'Bearer']]) },
    },
  });
}
