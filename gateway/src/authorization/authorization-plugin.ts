import type { ApolloServerPlugin } from '@apollo/server';
import { HeaderMap } from '@apollo/server';
import { GraphQLError } from 'graphql';
import type { GatewayContext } from '../gateway-context.js';
import { deniedFields } from './access-check.js';
import type { SupergraphRuleBook } from '../supergraph/supergraph-rules.js';

/** Most denied fields named in one answer. */
const MAX_REPORTED = 10;

/**
 * Enforces `@authenticated` and `@requiresScopes` at the gateway: after validation, before the
 * operation is planned, so that no subgraph is called for an operation that selects a field its
 * caller may not see. The requirements are read from each supergraph as it loads and kept with
 * the schema built from it, so a request is always checked against its own schema's rules; a
 * schema whose rules are unknown refuses everything.
 */
export function authorizationPlugin(rules: SupergraphRuleBook): ApolloServerPlugin<GatewayContext> {
  return {
    requestDidStart: () =>
      Promise.resolve({
        didResolveOperation: ({ schema, document, request, contextValue }) => {
          const requirements = rules.rulesOf(schema)?.access;
          const denied = requirements
            ? deniedFields(schema, document, request.operationName, requirements, contextValue.principal)
            : ['(authorization rules not loaded)'];
          if (denied.length === 0) return Promise.resolve();
          contextValue.logger.info(
            { fields: denied.slice(0, MAX_REPORTED) },
            'refused fields the caller may not see',
          );
          return Promise.reject(accessRefusal(denied, contextValue.principal.kind === 'anonymous'));
        },
      }),
  };
}

/** The refusal of an operation selecting fields its caller may not see (at most 10 named). */
export function accessRefusal(fields: string[], anonymous: boolean): GraphQLError {
  if (anonymous) {
    return new GraphQLError('Authentication required', {
      extensions: {
        code: 'UNAUTHENTICATED',
        http: { status: 401, headers: new HeaderMap([['www-authenticate', 'Bearer']]) },
      },
    });
  }
  return new GraphQLError(`Not allowed to see ${fields.slice(0, MAX_REPORTED).join(', ')}`, {
    extensions: { code: 'FORBIDDEN', field: fields[0], http: { status: 403 } },
  });
}
