import {
  getNamedType,
  getOperationAST,
  isAbstractType,
  Kind,
  TypeInfo,
  visit,
  visitWithTypeInfo,
  type ASTNode,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLSchema,
} from 'graphql';
import type { Principal } from '@fleet/service-kit';
import { DocumentMemo } from '../documents/document-memo.js';
import type { AccessRequirement, AccessRequirements } from './supergraph-access.js';

/** A field the operation selects whose requirement some callers do not meet. */
interface SelectedRequirement {
  /** `Type.field` as reported when denied. */
  coordinate: string;
  requirement: AccessRequirement;
}

/** Per document: what it selects that has requirements (undefined: no single operation). */
const selectedRequirements = new DocumentMemo<SelectedRequirement[] | undefined>();

/**
 * The fields of an operation its caller may not select, as `Type.field`, without repeats. Every
 * field is checked where it appears, inside fragments too (each fragment the operation spreads,
 * once): the field's own requirement, the requirement of the type it returns, and, on an
 * interface or union, those of each object type that could stand behind it.
 *
 * The walk over the document is done once per document and schema; each request only compares
 * its principal with the requirements that walk found.
 */
export function deniedFields(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  requirements: AccessRequirements,
  principal: Principal,
): string[] {
  const selected = selectedRequirements.get([requirements, schema, document], operationName ?? '', () =>
    requirementsSelected(schema, document, operationName, requirements),
  );
  if (!selected) return ['(no single operation)'];
  const denied = new Set<string>();
  for (const { coordinate, requirement } of selected) {
    if (!satisfies(principal, requirement)) denied.add(coordinate);
  }
  return [...denied];
}

function requirementsSelected(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  requirements: AccessRequirements,
): SelectedRequirement[] | undefined {
  const operation = getOperationAST(document, operationName);
  if (!operation) return undefined;
  const selected: SelectedRequirement[] = [];
  const seen = new Set<string>();
  const add = (coordinate: string, requirement: AccessRequirement | undefined, as: string) => {
    if (requirement === undefined || seen.has(`${as} ${coordinate}`)) return;
    seen.add(`${as} ${coordinate}`);
    selected.push({ coordinate: as, requirement });
  };
  const typeInfo = new TypeInfo(schema);
  const visitor = visitWithTypeInfo(typeInfo, {
    Field(node) {
      const parent = typeInfo.getParentType();
      const field = typeInfo.getFieldDef();
      if (!parent || !field || node.name.value.startsWith('__')) return;
      const owners = isAbstractType(parent) ? [parent, ...schema.getPossibleTypes(parent)] : [parent];
      for (const owner of owners) {
        const coordinate = `${owner.name}.${field.name}`;
        add(coordinate, requirements.fields.get(coordinate), coordinate);
      }
      const returned = getNamedType(field.type).name;
      add(`type ${returned}`, requirements.types.get(returned), `${parent.name}.${field.name}`);
    },
  });
  for (const node of [operation, ...fragmentsUsedBy(operation, document)]) visit(node as ASTNode, visitor);
  return selected;
}

/** Whether the principal meets a requirement: signed in, and one set of scopes per entry held. */
export function satisfies(principal: Principal, requirement: AccessRequirement): boolean {
  if (principal.kind === 'anonymous') return !requirement.authenticated && requirement.scopes.length === 0;
  const held = new Set(principal.scopes);
  return requirement.scopes.every((alternatives) =>
    alternatives.some((scopes) => scopes.every((scope) => held.has(scope))),
  );
}

/** The fragments an operation spreads, directly or through other fragments, each once. */
function fragmentsUsedBy(operation: ASTNode, document: DocumentNode): FragmentDefinitionNode[] {
  const definitions = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) definitions.set(definition.name.value, definition);
  }
  const used = new Map<string, FragmentDefinitionNode>();
  const pending: ASTNode[] = [operation];
  while (pending.length > 0) {
    visit(pending.pop()!, {
      FragmentSpread(spread) {
        const fragment = definitions.get(spread.name.value);
        if (fragment && !used.has(fragment.name.value)) {
          used.set(fragment.name.value, fragment);
          pending.push(fragment);
        }
      },
    });
  }
  return [...used.values()];
}
