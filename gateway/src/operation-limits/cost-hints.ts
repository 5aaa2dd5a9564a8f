import { Kind, type ConstValueNode, type DocumentNode } from 'graphql';
import { argumentOf, linkedDirectiveName } from '../supergraph/feature-links.js';

/** What the schema says of a list field's size (federation's `@listSize`). */
export interface ListSizeHint {
  /** Size to assume when no slicing argument gives one. */
  assumedSize?: number;
  /** Arguments that bound the list's size, in place of first/last/limit/pageSize. */
  slicingArguments?: readonly string[];
  /**
   * Fields of the (non-list) result whose size the slicing arguments give instead, as in a
   * connection: `edges` is as long as `first` says.
   */
  sizedFields?: readonly string[];
}

/** Cost hints of a supergraph, by field coordinate (`Type.field`). */
export interface CostHints {
  listSizes: ReadonlyMap<string, ListSizeHint>;
  /** A field's own cost (federation's `@cost(weight:)`), in place of 1. */
  weights: ReadonlyMap<string, number>;
}

export const NO_COST_HINTS: CostHints = { listSizes: new Map(), weights: new Map() };

const COST_FEATURE = 'https://specs.apollo.dev/cost/v0.1';

/** Reads `@listSize` and `@cost` from a supergraph (composition keeps them from the subgraphs). */
export function costHintsOf(document: DocumentNode): CostHints {
  const listSizeName = linkedDirectiveName(document, COST_FEATURE, 'listSize');
  const costName = linkedDirectiveName(document, COST_FEATURE, 'cost');
  if (!listSizeName && !costName) return NO_COST_HINTS;
  const listSizes = new Map<string, ListSizeHint>();
  const weights = new Map<string, number>();
  for (const definition of document.definitions) {
    if (
      definition.kind !== Kind.OBJECT_TYPE_DEFINITION &&
      definition.kind !== Kind.INTERFACE_TYPE_DEFINITION
    ) {
      continue;
    }
    for (const field of definition.fields ?? []) {
      const coordinate = `${definition.name.value}.${field.name.value}`;
      for (const directive of field.directives ?? []) {
        if (directive.name.value === listSizeName) {
          const assumedSize = wholeNumber(argumentOf(directive, 'assumedSize'));
          const slicing = argumentOf(directive, 'slicingArguments');
          const slicingArguments = stringList(slicing);
          const sizedFields = stringList(argumentOf(directive, 'sizedFields'));
          listSizes.set(coordinate, {
            ...(assumedSize !== undefined ? { assumedSize } : {}),
            ...(slicingArguments ? { slicingArguments } : {}),
            ...(sizedFields ? { sizedFields } : {}),
          });
        }
        if (directive.name.value === costName) {
          const weight = wholeNumber(argumentOf(directive, 'weight'));
          if (weight !== undefined) weights.set(coordinate, weight);
        }
      }
    }
  }
  return { listSizes, weights };
}

function stringList(value: ConstValueNode | undefined): string[] | undefined {
  return value?.kind === Kind.LIST
    ? value.values.flatMap((item) => (item.kind === Kind.STRING ? [item.value] : []))
    : undefined;
}

function wholeNumber(value: ConstValueNode | undefined): number | undefined {
  if (value?.kind !== Kind.INT) return undefined;
  const number = Number(value.value);
  return Number.isSafeInteger(number) && number >= 0 ? number : undefined;
}
