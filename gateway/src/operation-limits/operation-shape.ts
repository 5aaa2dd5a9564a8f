import {
  getNamedType,
  getNullableType,
  isListType,
  isObjectType,
  isInterfaceType,
  Kind,
  OperationTypeNode,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValueNode,
} from 'graphql';
import type { CostHints, ListSizeHint } from './cost-hints.js';

/** What an operation amounts to once every fragment is expanded where it is spread. */
export interface OperationShape {
  /** Deepest field nesting, root fields at depth 1 (`__typename` not counted). */
  depth: number;
  /** Aliased fields, counted each time they would execute. */
  aliases: number;
  /** Fields selected at the root. */
  rootFields: number;
  /** Directives used in the operation, counted each time they would apply. */
  directives: number;
  /** Fields walked (each spread of a fragment walks it again), up to just past the ceiling. */
  fields: number;
  /**
   * Estimated cost: every field 1 (or its `@cost` weight), times the sizes of the lists around it;
   * mutations 10 more per root field.
   */
  cost: number;
}

export interface ShapeOptions {
  /** Size assumed for a list field without a size argument. */
  defaultListSize: number;
  /** The request's variables, for size arguments given as variables. */
  variables?: Record<string, unknown> | undefined;
  /** Stop walking once depth, aliases or directives pass this: the operation is refused anyway. */
  ceiling: number;
  /** Stop walking after this many fields: each costs at least 1, so the cost limit is passed. */
  maxFields: number;
  /** The schema's `@listSize` and `@cost` hints. */
  hints?: CostHints;
}

const SIZE_ARGUMENTS = new Set(['first', 'last', 'limit', 'pageSize']);
const MUTATION_COST = 10;

/**
 * Walks an operation as it would execute: a fragment spread is followed every time it appears,
 * so neither depth nor aliases nor cost can hide in fragments. A fragment spread inside itself
 * (a cycle, which validation refuses anyway) is not followed twice on one path, and the walk
 * stops once a count passes its ceiling or too many fields were seen, so no document (however
 * its fragments multiply) makes it run long.
 */
export function operationShape(
  schema: GraphQLSchema,
  operation: OperationDefinitionNode,
  fragments: ReadonlyMap<string, FragmentDefinitionNode>,
  options: ShapeOptions,
): OperationShape {
  const shape: OperationShape = { depth: 0, aliases: 0, rootFields: 0, directives: 0, fields: 0, cost: 0 };
  const rootType =
    operation.operation === OperationTypeNode.QUERY
      ? schema.getQueryType()
      : operation.operation === OperationTypeNode.MUTATION
        ? schema.getMutationType()
        : schema.getSubscriptionType();
  shape.directives += operation.directives?.length ?? 0;
  const over = () =>
    shape.depth > options.ceiling ||
    shape.aliases > options.ceiling ||
    shape.directives > options.ceiling ||
    shape.fields > options.maxFields;

  const walk = (
    selectionSet: SelectionSetNode,
    parent: GraphQLNamedType | undefined | null,
    depth: number,
    multiplier: number,
    path: ReadonlySet<string>,
    sized?: SizedFields,
  ): void => {
    for (const selection of selectionSet.selections) {
      if (over()) return;
      shape.directives += selection.directives?.length ?? 0;
      switch (selection.kind) {
        case Kind.FIELD: {
          const name = selection.name.value;
          if (name === '__typename') break;
          shape.fields++;
          if (depth === 1) shape.rootFields++;
          if (selection.alias) shape.aliases++;
          shape.depth = Math.max(shape.depth, depth);
          const field = fieldOf(parent, name);
          const coordinate = `${parent?.name ?? ''}.${name}`;
          // Never below 1, so that the walk's field bound is also a cost bound.
          const weight = Math.max(1, options.hints?.weights.get(coordinate) ?? 1);
          const cost =
            multiplier *
            (depth === 1 && operation.operation === OperationTypeNode.MUTATION
              ? weight + MUTATION_COST
              : weight);
          shape.cost += cost;
          if (selection.selectionSet) {
            const hint = options.hints?.listSizes.get(coordinate);
            const isList = field !== undefined && isListType(getNullableType(field.type));
            const size = !isList
              ? 1
              : sized?.names.includes(name)
                ? sized.size
                : listSize(selection.arguments ?? [], field, options, hint);
            // A connection: the list fields its hint names are as long as its own arguments say.
            const sizedBelow =
              !isList && hint?.sizedFields
                ? { names: hint.sizedFields, size: listSize(selection.arguments ?? [], field, options, hint) }
                : undefined;
            walk(
              selection.selectionSet,
              field ? getNamedType(field.type) : undefined,
              depth + 1,
              multiplier * size,
              path,
              sizedBelow,
            );
          }
          break;
        }
        case Kind.INLINE_FRAGMENT: {
          const type = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : parent;
          walk(selection.selectionSet, type, depth, multiplier, path, sized);
          break;
        }
        case Kind.FRAGMENT_SPREAD: {
          const name = selection.name.value;
          const fragment = fragments.get(name);
          if (!fragment || path.has(name)) break;
          const type = schema.getType(fragment.typeCondition.name.value);
          walk(fragment.selectionSet, type, depth, multiplier, new Set([...path, name]), sized);
          break;
        }
      }
    }
  };
  walk(operation.selectionSet, rootType, 1, 1, new Set());
  return shape;
}

function fieldOf(
  parent: GraphQLNamedType | undefined | null,
  name: string,
): GraphQLField<unknown, unknown> | undefined {
  if (!parent || !(isObjectType(parent) || isInterfaceType(parent))) return undefined;
  return parent.getFields()[name];
}

/** List fields below a connection, and the size its arguments give them. */
interface SizedFields {
  names: readonly string[];
  size: number;
}

/**
 * The size a list (or connection) field asks for: a slicing argument (literal or variable;
 * first/last/limit/pageSize unless the schema names others), else that argument's default in the
 * schema, else the schema's assumed size, else the default. Never below 1: what is nested inside
 * an empty list is still planned.
 */
function listSize(
  args: readonly { name: { value: string }; value: ValueNode }[],
  field: GraphQLField<unknown, unknown> | undefined,
  options: ShapeOptions,
  hint: ListSizeHint | undefined,
): number {
  const slicing = hint?.slicingArguments ? new Set(hint.slicingArguments) : SIZE_ARGUMENTS;
  const sizeOf = (value: unknown) =>
    typeof value === 'number' && Number.isInteger(value) && value >= 0 ? Math.max(1, value) : undefined;
  for (const argument of args) {
    if (!slicing.has(argument.name.value)) continue;
    const value =
      argument.value.kind === Kind.INT
        ? Number(argument.value.value)
        : argument.value.kind === Kind.VARIABLE
          ? options.variables?.[argument.value.name.value]
          : undefined;
    const size = sizeOf(value);
    if (size !== undefined) return size;
  }
  for (const argument of field?.args ?? []) {
    if (!slicing.has(argument.name)) continue;
    const size = sizeOf(argument.defaultValue);
    if (size !== undefined) return size;
  }
  return Math.max(1, hint?.assumedSize ?? options.defaultListSize);
}
