import { HeaderMap, type ApolloServerPlugin } from '@apollo/server';
import { GraphQLError } from 'graphql';
import { selectsSignIn } from '../authentication/anonymous-allow-list.js';
import type { GatewayContext } from '../gateway-context.js';
import { checkCost, NO_COST_HINTS, type OperationLimitConfig } from '../operation-limits/index.js';
import type { SupergraphRuleBook } from '../supergraph/supergraph-rules.js';
import type { RateLimitConfig } from './rate-limit-config.js';
import { rateLimitHeaders } from './rate-limit-headers.js';
import type { Admission, RateLimiter } from './rate-limiter.js';

/**
 * Prices each operation and charges it to its caller's budgets, after validation and before
 * planning: an operation over the cost limit, or over budget, never reaches a subgraph. Every
 * response carries the RateLimit headers of the budgets its request spent from.
 */
export function rateLimitPlugin(
  limiter: RateLimiter,
  config: OperationLimitConfig & RateLimitConfig,
  rules: SupergraphRuleBook,
): ApolloServerPlugin<GatewayContext> {
  return {
    requestDidStart: () =>
      Promise.resolve({
        didResolveOperation: async ({ schema, document, operation, request, contextValue }) => {
          if (!operation) return;
          const hints = rules.rulesOf(schema)?.costs ?? NO_COST_HINTS;
          const cost = checkCost(schema, document, operation, request.variables, config, hints);
          const admission = await limiter.admitOperation({
            principal: contextValue.principal,
            address: contextValue.clientAddress,
            cost,
            signsIn: selectsSignIn(document, request.operationName),
          });
          if ('quotas' in admission) contextValue.quotas.push(...admission.quotas);
          if (admission.ok) return;
          contextValue.logger.info(
            { status: admission.status, cost },
            'refused an operation over its rate limit',
          );
          throw rateLimitRefusal(admission);
        },
        willSendResponse: ({ response, contextValue }) => {
          const headers = rateLimitHeaders(contextValue.quotas, config.RATE_LIMIT_WINDOW_S);
          for (const [name, value] of Object.entries(headers)) response.http.headers.set(name, value);
          return Promise.resolve();
        },
      }),
  };
}

/** The refusal of an operation over its caller's rate limits, or when they cannot be checked. */
export function rateLimitRefusal(admission: Exclude<Admission, { ok: true }>): GraphQLError {
  const headers = new HeaderMap([['retry-after', String(admission.retryAfterS)]]);
  if (admission.status === 503) {
    return new GraphQLError('Rate limits cannot be checked right now; try again shortly', {
      extensions: { code: 'SERVICE_UNAVAILABLE', http: { status: 503, headers } },
    });
  }
  return new GraphQLError(`Rate limit reached; retry in ${admission.retryAfterS} s`, {
    extensions: {
      code: 'RATE_LIMITED',
      retryAfterSeconds: admission.retryAfterS,
      http: { status: 429, headers },
    },
  });
}
