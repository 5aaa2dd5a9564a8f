import type { GraphQLFormattedError } from 'graphql';

/**
 * Apollo reports every validation error as GRAPHQL_VALIDATION_FAILED, and a document over the
 * token limit as a parse failure: each refusal by an operation limit gets its own code instead.
 */
export function withLimitCode(formatted: GraphQLFormattedError): GraphQLFormattedError {
  const limitCode = formatted.extensions?.limitCode;
  if (typeof limitCode === 'string') {
    return { ...formatted, extensions: { ...formatted.extensions, code: limitCode } };
  }
  if (
    formatted.extensions?.code === 'GRAPHQL_PARSE_FAILED' &&
    /more tha[nt] \d+ tokens/.test(formatted.message)
  ) {
    return { ...formatted, extensions: { ...formatted.extensions, code: 'TOKEN_LIMIT' } };
  }
  return formatted;
}
