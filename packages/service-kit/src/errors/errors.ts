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
  mfaRequired: 'MFA_REQUIRED',
  tooManyAttempts: 'TOO_MANY_ATTEMPTS',
  unavailable: 'SERVICE_UNAVAILABLE',
  internal: 'INTERNAL_SERVER_ERROR',
} as const;

/** Codes whose message is written for the client and may leave the system as it is. */
const PUBLIC_CODES = new Set<string>([
  ErrorCode.badUserInput,
  ErrorCode.notFound,
  ErrorCode.conflict,
  ErrorCode.unauthenticated,
  ErrorCode.forbidden,
  ErrorCode.mfaRequired,
  ErrorCode.tooManyAttempts,
  ErrorCode.unavailable,
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_REQUEST',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'OPERATION_RESOLUTION_FAILURE',
  'PERSISTED_QUERY_REQUIRED',
  // The gateway's protections: each refusal says why.
  'RATE_LIMITED',
  'DEPTH_LIMIT',
  'COST_LIMIT',
  'ALIAS_LIMIT',
  'ROOT_FIELD_LIMIT',
  'DIRECTIVE_LIMIT',
  'TOKEN_LIMIT',
  'SUBSCRIPTION_LIMIT',
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

/** The caller is not who it must be: no credentials, or wrong ones. */
export class UnauthenticatedError extends GraphQLError {
  constructor(message = 'Authentication required') {
    super(message, { extensions: { code: ErrorCode.unauthenticated } });
  }
}

/** The caller is known but may not do this. */
export class ForbiddenError extends GraphQLError {
  constructor(message = 'Not allowed') {
    super(message, { extensions: { code: ErrorCode.forbidden } });
  }
}

/** A login needs a second factor the caller did not give. */
export class MfaRequiredError extends GraphQLError {
  constructor() {
    super('A verification code is required', { extensions: { code: ErrorCode.mfaRequired } });
  }
}

/** Too many failed attempts: the caller must wait. */
export class TooManyAttemptsError extends GraphQLError {
  constructor(retryAfterMs: number) {
    super('Too many failed attempts; try again later', {
      extensions: {
        code: ErrorCode.tooManyAttempts,
        retryAfterSeconds: Math.max(1, Math.ceil(retryAfterMs / 1000)),
      },
    });
  }
}

/** Something the service depends on (such as the key service) cannot be reached. */
export class ServiceUnavailableError extends GraphQLError {
  constructor(message: string) {
    super(message, { extensions: { code: ErrorCode.unavailable } });
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
    const retryAfterSeconds = formatted.extensions?.retryAfterSeconds;
    return {
      message: formatted.message,
      ...(formatted.locations ? { locations: formatted.locations } : {}),
      ...(formatted.path ? { path: formatted.path } : {}),
      extensions: {
        code,
        ...(typeof field === 'string' ? { field } : {}),
        ...(typeof retryAfterSeconds === 'number' ? { retryAfterSeconds } : {}),
      },
    };
  }
  return {
    message: 'Internal server error',
    ...(formatted.path ? { path: formatted.path } : {}),
    extensions: { code: ErrorCode.internal },
  };
}
