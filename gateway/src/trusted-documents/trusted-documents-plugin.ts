import type { ApolloServerPlugin } from '@apollo/server';
import { GraphQLError } from 'graphql';
import type { GatewayContext } from '../gateway-context.js';

/**
 * Trusted documents: a partner API key may be restricted to a registered set of operations,
 * each named by the SHA-256 of its text (the hash APQ uses too). Any other document is refused
 * before it is planned, whether it came as text or as a persisted-query hash. Keys without a set,
 * and people, may send any operation (the other limits still apply).
 */
export function trustedDocumentsPlugin(): ApolloServerPlugin<GatewayContext> {
  return {
    requestDidStart: () =>
      Promise.resolve({
        didResolveOperation: ({ contextValue, queryHash }) => {
          const trusted = contextValue.trustedDocuments;
          if (trusted === null || trusted.has(queryHash)) return Promise.resolve();
          contextValue.logger.info(
            { queryHash },
            'refused an operation outside the API key’s trusted documents',
          );
          return Promise.reject(untrustedDocumentRefusal());
        },
      }),
  };
}

/** The refusal of an operation outside an API key's trusted documents. */
export function untrustedDocumentRefusal(): GraphQLError {
  return new GraphQLError('This API key may run only its registered operations', {
    extensions: { code: 'PERSISTED_QUERY_REQUIRED', http: { status: 403 } },
  });
}
