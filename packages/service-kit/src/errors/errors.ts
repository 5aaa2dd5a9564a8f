import { GraphQLError, type GraphQLFormattedError } from 'graphql';

/**
 * One error type per failure kind, each with a stable GraphQL error code. Anything else that
 * escapes a resolver is an internal error, and leaves the service masked.
 */
export const ErrorCode = {
  badUserInput: 'BAD_USER_INPUT',
  notFound: 'NOT_FOUND',
  conflict: 'CONFLICT',
  unauthenticated: 'UNAUTHENTICATED',
  forbidden: 'FORBIDDEN',
  internal: 'INTERNAL_SERVER_ERROR',
} as const;

/** Codes whose message is written for the client and may leave the system as it is. */
const PUBLIC_CODES = new Set<string>([
  ErrorCode.badUserInput,
  ErrorCode.notFound,
  ErrorCode.conflict,
  ErrorCode.unauthenticated,
  ErrorCode.forbidden,
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_REQUEST',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'OPERATION_RESOLUTION_FAILURE',
]);

export class BadUserInputError extends GraphQLError {
  constructor(message: string, field: string) {
    super(message, { extensions: { code: ErrorCode.badUserInput, field } });
  }
}

export class NotFoundError extends GraphQLError {
  constructor(what: string) {
    super(`${what} not found`, { extensions: { code: ErrorCode.notFound } });
  }
}

export class ConflictError extends GraphQLError {
  constructor(message: string, field?: string) {
    super(message, { extensions: { code: ErrorCode.conflict, ...(field ? { field } : {}) } });
  }
}

/**
 * Shapes an error for the client: public codes keep their message and safe extensions; anything
 * else becomes a generic internal error. Stack traces, SQL and internal messages never leave.
 */
export function maskError(formatted: GraphQLFormattedError): GraphQLFormattedError {
  const code = typeof formatted.extensions?.code === 'string' ? formatted.extensions.code : undefined;
  if (code && PUBLIC_CODES.has(code)) {
    const field = formatted.extensions?.field;
    return {
      message: formatted.message,
      ...(formatted.locations ? { locations: formatted.locations } : {}),
      ...(formatted.path ? { path: formatted.path } : {}),
      extensions: { code, ...(typeof field === 'string' ? { field } : {}) },
    };
  }
  return {
    message: 'Internal server error',
    ...(formatted.path ? { path: formatted.path } : {}),
    extensions: { code: ErrorCode.internal },
  };
}
