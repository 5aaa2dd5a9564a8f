import type { CostHints } from './cost-hints.js';
import {
  GraphQLError,
  Kind,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type ValidationRule,
} from 'graphql';
import { integer, type ConfigOf } from '@fleet/service-kit';
import { DocumentMemo } from '../documents/document-memo.js';
import { operationShape, type OperationShape } from './operation-shape.js';

/** Read with the prefix GATEWAY_. */
export const operationLimitConfigSpec = {
  MAX_DEPTH: integer({ doc: 'Deepest field nesting an operation may have.', default: 12, min: 2, max: 100 }),
  MAX_ALIASES: integer({ doc: 'Most aliased fields an operation may run.', default: 15, min: 0, max: 1_000 }),
  MAX_ROOT_FIELDS: integer({ doc: 'Most root fields in one operation.', default: 10, min: 1, max: 1_000 }),
  MAX_DIRECTIVES: integer({ doc: 'Most directives in one operation.', default: 20, min: 0, max: 1_000 }),
  MAX_TOKENS: integer({
    doc: 'Most tokens the parser reads in one document.',
    default: 5_000,
    min: 100,
    max: 1_000_000,
  }),
  MAX_COST: integer({
    doc: 'Highest estimated cost of an operation (every field 1, times the sizes of the lists around it).',
    default: 5_000,
    min: 10,
    max: 10_000_000,
  }),
  DEFAULT_LIST_SIZE: integer({
    doc: 'Size assumed for a list without a size argument (first/last/limit/pageSize or its @listSize slicing arguments) or an @listSize assumedSize, when estimating cost.',
    default: 50,
    min: 1,
    max: 10_000,
  }),
};

export type OperationLimitConfig = ConfigOf<typeof operationLimitConfigSpec>;

/**
 * The error of a refused operation. Apollo reports every validation error as
 * GRAPHQL_VALIDATION_FAILED; `limitCode` carries the stable code (DEPTH_LIMIT, …) that the
 * gateway's error formatting puts in its place.
 */
function limitError(limitCode: string, message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { limitCode, http: { status: 400 } } });
}

function fragmentsOf(document: DocumentNode): Map<string, FragmentDefinitionNode> {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  return fragments;
}

function shapeOf(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  config: OperationLimitConfig,
  variables?: Record<string, unknown>,
  hints?: CostHints,
): OperationShape {
  return operationShape(schema, operation, fragmentsOf(document), {
    defaultListSize: config.DEFAULT_LIST_SIZE,
    variables,
    hints,
    ceiling: Math.max(config.MAX_DEPTH, config.MAX_ALIASES, config.MAX_DIRECTIVES) + 1,
    maxFields: config.MAX_COST + 1,
  });
}

/**
 * Depth, aliases, root fields and directives, as a validation rule: Apollo runs it after parsing
 * and before the gateway plans, so a refused operation costs no subgraph anything.
 *
 * One walk (operation-shape.ts) measures all of them and the cost, rather than graphql-armor's
 * rules: its cost limit reads only literal `first`/`last` (a size given as a variable counts as
 * 1, and a list without one as a single item), with no default size and no `@listSize`, so it
 * can be bypassed; and with one walk every measure shares one ceiling. Field suggestions and
 * the token limit are Apollo's and graphql-js's own (`hideSchemaDetailsFromClientErrors`,
 * `maxTokens`).
 */
export function operationLimitsRule(config: OperationLimitConfig): ValidationRule {
  return (context) => ({
    Document: {
      leave(document) {
        for (const definition of document.definitions) {
          if (definition.kind !== Kind.OPERATION_DEFINITION) continue;
          const shape = shapeOf(context.getSchema(), document, definition, config);
          const checks: [number, number, string, string][] = [
            [shape.depth, config.MAX_DEPTH, 'DEPTH_LIMIT', 'deep'],
            [shape.aliases, config.MAX_ALIASES, 'ALIAS_LIMIT', 'aliases'],
            [shape.rootFields, config.MAX_ROOT_FIELDS, 'ROOT_FIELD_LIMIT', 'root fields'],
            [shape.directives, config.MAX_DIRECTIVES, 'DIRECTIVE_LIMIT', 'directives'],
          ];
          for (const [value, limit, code, what] of checks) {
            if (value > limit) {
              context.reportError(
                limitError(
                  code,
                  `The operation has too many ${what === 'deep' ? 'levels' : what}: more than ${limit}`,
                ),
              );
            }
          }
        }
      },
    },
  });
}

/** Per operation (each belongs to one document), hints and variables: the estimated cost. */
const costs = new DocumentMemo<number>();

/**
 * The operation's estimated cost, with the request's variables (sizes may come from them); throws
 * the COST_LIMIT error past the limit. Call it once the operation is resolved, before planning.
 * The walk is done once per document, operation and variables (as JSON).
 */
export function checkCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Record<string, unknown> | undefined,
  config: OperationLimitConfig,
  hints: CostHints,
): number {
  const cost = costs.get(
    [config, hints, schema, operation],
    variables === undefined ? '' : JSON.stringify(variables),
    () => shapeOf(schema, document, operation, config, variables, hints).cost,
  );
  if (cost > config.MAX_COST) {
    throw new GraphQLError(`The operation would cost too much: more than ${config.MAX_COST}`, {
      extensions: { code: 'COST_LIMIT', http: { status: 400 } },
    });
  }
  return cost;
}
