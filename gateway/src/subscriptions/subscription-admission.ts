import { createHash } from 'node:crypto';
import {
  getOperationAST,
  getVariableValues,
  GraphQLError,
  OperationTypeNode,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type GraphQLSchema,
} from 'graphql';

import type { Logger, Principal } from '@fleet/service-kit';
import { authenticationRequired } from '../authentication/anonymous-access-plugin.js';
import { accessRefusal, deniedFields } from '../authorization/index.js';
import {
  checkCost,
  NO_COST_HINTS,
  operationLimitsRule,
  withLimitCode,
  type OperationLimitConfig,
} from '../operation-limits/index.js';
import { rateLimitRefusal, type RateLimiter } from '../rate-limits/index.js';
import type { SupergraphRuleBook } from '../supergraph/supergraph-rules.js';
import { untrustedDocumentRefusal } from '../trusted-documents/trusted-documents-plugin.js';
import type { SubscriptionRequest } from './subscription-hub.js';
import type { CheckedDocument, SubscriptionPlanner } from './subscription-planner.js';

/** Who subscribes, as authentication established. */
export interface Subscriber {
  principal: Principal;
  trustedDocuments: ReadonlySet<string> | null;
  clientAddress: string;
  logger: Logger;
}

export interface SubscriptionAdmissionOptions {
  /** The planner of the supergraph served now; undefined before the first one loaded. */
  planner: () => SubscriptionPlanner | undefined;
  rules: SupergraphRuleBook;
  config: OperationLimitConfig;
  /** Null only for the protection-cost benchmark's unprotected gateway. */
  rateLimiter: RateLimiter | null;
  /** Development: validation errors keep their suggestions of field names. */
  development: boolean;
}

export type Admission =
  { ok: true; request: SubscriptionRequest; document: DocumentNode } | { ok: false; errors: GraphQLError[] };

/**
 * Everything an HTTP operation passes before it is planned, for a subscription: the token limit,
 * validation with the depth, alias, root field and directive limits, anonymous callers turned
 * away, an API key's trusted documents, `@authenticated` / `@requiresScopes`, the cost limit and
 * the caller's rate limits, then the variables. The same functions as the HTTP plugins make the
 * same decisions with the same errors; only subscriptions are admitted (queries and mutations go
 * over HTTP). Nothing reaches a subgraph before all of it passed.
 */
export async function admitSubscription(
  payload: unknown,
  subscriber: Subscriber,
  options: SubscriptionAdmissionOptions,
): Promise<Admission> {
  const refuse = (...errors: GraphQLError[]): Admission => ({ ok: false, errors });
  const read = readPayload(payload);
  if (typeof read === 'string') return refuse(coded(read, 'BAD_REQUEST'));
  const planner = options.planner();
  if (!planner) return refuse(coded('The gateway is starting; try again shortly', 'SERVICE_UNAVAILABLE'));
  const { apiSchema: schema } = planner;
  const { config } = options;

  const checked = planner.documents.getOrSet(read.query, () =>
    parseAndValidate(read.query, schema, config, options.development),
  );
  if (!('document' in checked)) return refuse(...checked.errors);
  const { document } = checked;
  const operation = getOperationAST(document, read.operationName);
  if (!operation) return refuse(coded('Name the operation to run: operationName', 'BAD_REQUEST'));
  if (operation.operation !== OperationTypeNode.SUBSCRIPTION) {
    return refuse(
      coded('Only subscriptions are served here; send queries and mutations over HTTP', 'BAD_REQUEST'),
    );
  }
  const { principal } = subscriber;
  if (principal.kind === 'anonymous') return refuse(authenticationRequired());
  const trusted = subscriber.trustedDocuments;
  if (trusted !== null && !trusted.has(createHash('sha256').update(read.query).digest('hex'))) {
    subscriber.logger.info('refused a subscription outside the API key’s trusted documents');
    return refuse(untrustedDocumentRefusal());
  }
  const rules = options.rules.rulesOf(schema);
  const denied = rules
    ? deniedFields(schema, document, read.operationName, rules.access, principal)
    : ['(authorization rules not loaded)'];
  if (denied.length > 0) {
    subscriber.logger.info({ fields: denied.slice(0, 10) }, 'refused fields the caller may not see');
    return refuse(accessRefusal(denied, false));
  }
  const variables = getVariableValues(schema, operation.variableDefinitions ?? [], read.variables ?? {}, {
    maxErrors: 10,
  });
  if (variables.errors) {
    return refuse(...variables.errors.map((error) => coded(error.message, 'BAD_USER_INPUT')));
  }
  if (options.rateLimiter) {
    let cost: number;
    try {
      cost = checkCost(schema, document, operation, variables.coerced, config, rules?.costs ?? NO_COST_HINTS);
    } catch (error) {
      if (error instanceof GraphQLError) return refuse(error);
      throw error;
    }
    const admission = await options.rateLimiter.admitOperation({
      principal,
      address: subscriber.clientAddress,
      cost,
      signsIn: false,
    });
    if (!admission.ok) {
      subscriber.logger.info(
        { status: admission.status, cost },
        'refused a subscription over its rate limit',
      );
      return refuse(rateLimitRefusal(admission));
    }
  }
  let plan;
  try {
    plan = planner.plan(read.query, document, read.operationName);
  } catch (error) {
    subscriber.logger.error({ err: error }, 'could not plan a subscription');
    return refuse(coded('Internal server error', 'INTERNAL_SERVER_ERROR'));
  }
  return {
    ok: true,
    document,
    request: {
      planner,
      plan,
      variables: variables.coerced,
      operationName: read.operationName,
      principal,
      clientAddress: subscriber.clientAddress,
      logger: subscriber.logger,
    },
  };
}

/** The token limit, then validation with the operation limits: what depends on the text alone. */
function parseAndValidate(
  query: string,
  schema: GraphQLSchema,
  config: OperationLimitConfig,
  development: boolean,
): CheckedDocument {
  let document: DocumentNode;
  try {
    document = parse(query, { maxTokens: config.MAX_TOKENS });
  } catch (error) {
    const message = error instanceof GraphQLError ? error.message : 'Could not parse the document';
    return { errors: [withCode(coded(message, 'GRAPHQL_PARSE_FAILED'))] };
  }
  const invalid = validate(schema, document, [...specifiedRules, operationLimitsRule(config)]);
  if (invalid.length === 0) return { document };
  return {
    errors: invalid.map((error) =>
      withCode(
        new GraphQLError(development ? error.message : withoutSuggestions(error.message), {
          extensions: { code: 'GRAPHQL_VALIDATION_FAILED', ...error.extensions },
        }),
      ),
    ),
  };
}

interface Payload {
  query: string;
  operationName: string | null;
  variables: Record<string, unknown> | null;
}

/** The operation a client sent, or what is wrong with it. */
function readPayload(payload: unknown): Payload | string {
  if (typeof payload !== 'object' || payload === null) return 'Send the operation as an object';
  const { query, operationName, variables } = payload as Record<string, unknown>;
  if (typeof query !== 'string' || query === '') return 'Send the document as "query"';
  if (operationName !== undefined && operationName !== null && typeof operationName !== 'string') {
    return '"operationName" must be a string';
  }
  if (
    variables !== undefined &&
    variables !== null &&
    (typeof variables !== 'object' || Array.isArray(variables))
  ) {
    return '"variables" must be an object';
  }
  return {
    query,
    operationName: operationName ?? null,
    variables: (variables as Record<string, unknown> | null | undefined) ?? null,
  };
}

function coded(message: string, code: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code } });
}

/** A refusal by an operation limit, with its own code (as on HTTP). */
function withCode(error: GraphQLError): GraphQLError {
  const code = withLimitCode(error.toJSON()).extensions?.code;
  return code === error.extensions.code
    ? error
    : new GraphQLError(error.message, { extensions: { ...error.extensions, code } });
}

/** graphql-js suggests field and type names in its messages: they describe the schema. */
function withoutSuggestions(message: string): string {
  return message.replace(/ ?Did you mean .*\?$/, '');
}
