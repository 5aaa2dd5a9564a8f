import {
  getOperationAST,
  Kind,
  type DocumentNode,
  type FragmentDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { DocumentMemo } from '../documents/document-memo.js';

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
 * empty when the operation is allowed. An operation that cannot be found, or a fragment that is
 * not defined, is refused: this check never guesses in the caller's favour.
 */
export function rootFieldsRefusedToAnonymous(
  document: DocumentNode,
  operationName: string | null | undefined,
  options: { introspection: boolean },
): string[] {
  const fields = rootFieldsOf(document, operationName);
  if (!fields) return ['(no single operation)'];
  return fields.filter((field) => {
    const name = field.slice(field.indexOf('.') + 1);
    if (options.introspection && INTROSPECTION_FIELDS.includes(name)) return false;
    return !ANONYMOUS_ROOT_FIELDS.includes(field);
  });
}

/** Whether the operation signs in (or refreshes a session, or activates an account). */
export function selectsSignIn(document: DocumentNode, operationName: string | null | undefined): boolean {
  return (rootFieldsOf(document, operationName) ?? []).some((field) => ANONYMOUS_ROOT_FIELDS.includes(field));
}

/**
 * The root fields an operation selects, as `Type.field`, without repeats; undefined when the
 * document has no single operation by that name. Fragment spreads and inline fragments at the
 * root are followed (whatever their type condition or directives), aliases are seen through and
 * `__typename` is left out. A spread of an undefined fragment appears as `...Name`.
 */
function rootFieldsOf(
  document: DocumentNode,
  operationName: string | null | undefined,
): readonly string[] | undefined {
  return rootFields.get([document], operationName ?? '', () => readRootFields(document, operationName));
}

/** Per document and operation name: its root fields. */
const rootFields = new DocumentMemo<readonly string[] | undefined>();

function readRootFields(
  document: DocumentNode,
  operationName: string | null | undefined,
): readonly string[] | undefined {
  const operation = getOperationAST(document, operationName);
  if (!operation) return undefined;
  const rootType = ROOT_TYPES[operation.operation];
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  const fields = new Set<string>();
  const visited = new Set<string>();
  const visit = (selectionSet: SelectionSetNode): void => {
    for (const selection of selectionSet.selections) {
      switch (selection.kind) {
        case Kind.FIELD:
          if (selection.name.value !== '__typename') fields.add(`${rootType}.${selection.name.value}`);
          break;
        case Kind.INLINE_FRAGMENT:
          visit(selection.selectionSet);
          break;
        case Kind.FRAGMENT_SPREAD: {
          const name = selection.name.value;
          if (visited.has(name)) break;
          visited.add(name);
          const fragment = fragments.get(name);
          if (fragment) visit(fragment.selectionSet);
          else fields.add(`...${name}`);
          break;
        }
      }
    }
  };
  visit(operation.selectionSet);
  return [...fields];
}
