/**
 * An error as Stripe's API reports it: an HTTP status and `{"error": {type, code, message, param}}`.
 * The SDK turns the type into its error class (`invalid_request_error` into
 * StripeInvalidRequestError, `idempotency_error` into StripeIdempotencyError, …) and keeps the
 * code, the param and the status on it.
 */
export class StripeApiError extends Error {
  readonly status: number;
  readonly type: StripeErrorType;
  readonly code: string | undefined;
  readonly param: string | undefined;

  constructor(
    status: number,
    type: StripeErrorType,
    message: string,
    details: { code?: string; param?: string } = {},
  ) {
    super(message);
    this.name = 'StripeApiError';
    this.status = status;
    this.type = type;
    this.code = details.code;
    this.param = details.param;
  }

  toBody(): { error: Record<string, string> } {
    return {
      error: {
        type: this.type,
        message: this.message,
        ...(this.code
          ? { code: this.code, doc_url: `https://stripe.com/docs/error-codes/${this.code}` }
          : {}),
        ...(this.param ? { param: this.param } : {}),
      },
    };
  }
}

export type StripeErrorType = 'invalid_request_error' | 'idempotency_error' | 'api_error';

/** A bad or missing parameter: 400, naming it, as Stripe answers. */
export function invalidParam(param: string, message: string, code = 'parameter_invalid'): StripeApiError {
  return new StripeApiError(400, 'invalid_request_error', message, { code, param });
}

export function missingParam(param: string): StripeApiError {
  return invalidParam(param, `Missing required param: ${param}.`, 'parameter_missing');
}

/**
 * An object a parameter names that does not exist: 400 for a parameter of a create call, 404
 * for the object of the URL (`param` is then `id`).
 */
export function noSuch(kind: string, id: string, param: string, status = 400): StripeApiError {
  return new StripeApiError(status, 'invalid_request_error', `No such ${kind}: '${id}'`, {
    code: 'resource_missing',
    param,
  });
}
