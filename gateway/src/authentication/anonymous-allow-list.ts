import {
  getOperationAST,
  Kind,
  type DocumentNode,
  type FragmentDefinitionNode,
  type SelectionSetNode,
} from 'graphql';

/**
 * The only root fields a caller without credentials may select: signing in, refreshing a
 * session and activating an account. Everything else needs an access token or an API key.
 */
export const ANONYMOUS_ROOT_FIELDS: readonly string[] = Object.freeze([
  'Mutation.login',
  'Mutation.refreshSession',
  'Mutation.activateAccount',
]);

/** Introspection's root fields: open to anonymous callers in development mode only. */
const INTROSPECTION_FIELDS: readonly string[] = ['__schema', '__type'];

const ROOT_TYPES = { query: 'Query', mutation: 'Mutation', subscription: 'Subscription' } as const;

/**
 * The root fields of the operation that an anonymous caller may not select, as `Type.field`;
 * empty when the operation is allowed. Fragment spreads and inline fragments at the root are
 * followed (whatever their type condition or directives), aliases are seen through, and
 * `__typename` is always allowed. An operation that cannot be found, or a fragment that is not
 * defined, is refused: this check never guesses in the caller's favour.
 */
export function rootFieldsRefusedToAnonymous(
  document: DocumentNode,
  operationName: string | null | undefined,
  options: { introspection: boolean },
): string[] {
  const operation = getOperationAST(document, operationName);
  if (!operation) return ['(no single operation)'];
  const rootType = ROOT_TYPES[operation.operation];
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  const refused = new Set<string>();
  const visited = new Set<string>();
  const visit = (selectionSet: SelectionSetNode): void => {
    for (const selection of selectionSet.selections) {
      switch (selection.kind) {
        case Kind.FIELD: {
          const name = selection.name.value;
          if (name === '__typename') break;
          if (options.introspection && INTROSPECTION_FIELDS.includes(name)) break;
          const qualified = `${rootType}.${name}`;
          if (!ANONYMOUS_ROOT_FIELDS.includes(qualified)) refused.add(qualified);
          break;
        }
        case Kind.INLINE_FRAGMENT:
          visit(selection.selectionSet);
          break;
        case Kind.FRAGMENT_SPREAD: {
          const name = selection.name.value;
          if (visited.has(name)) break;
          visited.add(name);
          const fragment = fragments.get(name);
          if (fragment) visit(fragment.selectionSet);
          else refused.add(`...${name}`);
          break;
        }
      }
    }
  };
  visit(operation.selectionSet);
  return [...refused];
}
