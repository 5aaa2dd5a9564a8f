import {
  Kind,
  parse,
  print,
  visit,
  type ConstDirectiveNode,
  type ConstValueNode,
  type DocumentNode,
} from 'graphql';
import { argumentOf, linkedDirectiveName, stringOf } from '../supergraph/feature-links.js';

/**
 * What a field or a type demands of its caller, as the subgraphs declared it with federation's
 * `@authenticated` and `@requiresScopes` (kept in the supergraph by composition). Each entry of
 * `scopes` is one `@requiresScopes`: a list of alternatives, each a set of scopes to hold at once.
 */
export interface AccessRequirement {
  authenticated: boolean;
  /** Every entry must be met; empty: no scopes required. */
  scopes: readonly (readonly (readonly string[])[])[];
}

/** The requirements of a supergraph: per field (`Type.field`) and per type (`Type`). */
export interface AccessRequirements {
  fields: ReadonlyMap<string, AccessRequirement>;
  types: ReadonlyMap<string, AccessRequirement>;
}

const AUTHENTICATED = 'https://specs.apollo.dev/authenticated/v0.1';
const REQUIRES_SCOPES = 'https://specs.apollo.dev/requiresScopes/v0.1';

/** The security features the gateway enforces itself. */
const ENFORCED_FEATURES = new Set([AUTHENTICATED, REQUIRES_SCOPES]);

/**
 * The supergraph as Apollo's gateway will load it. Apollo's gateway refuses any supergraph
 * linking a feature `for: SECURITY` that it does not implement, and it implements neither
 * `@authenticated` nor `@requiresScopes`: this gateway does (see authorization-plugin.ts), so
 * their links lose that purpose here and keep everything else. Any other security feature
 * stays as it is and is still refused: nothing the gateway cannot enforce is silently ignored.
 */
export function enforceableSupergraph(sdl: string): string {
  const document = visit(parse(sdl), {
    Directive(node) {
      if (node.name.value !== 'link') return undefined;
      const url = stringOf(argumentOf(node as ConstDirectiveNode, 'url'));
      if (url === undefined || !ENFORCED_FEATURES.has(url)) return undefined;
      return { ...node, arguments: node.arguments?.filter((argument) => argument.name.value !== 'for') };
    },
  });
  return print(document);
}

/** Reads the field and type requirements of a supergraph. */
export function accessRequirementsOf(document: DocumentNode): AccessRequirements {
  const names = {
    authenticated: linkedDirectiveName(document, AUTHENTICATED, 'authenticated'),
    requiresScopes: linkedDirectiveName(document, REQUIRES_SCOPES, 'requiresScopes'),
  };
  const fields = new Map<string, AccessRequirement>();
  const types = new Map<string, AccessRequirement>();
  for (const definition of document.definitions) {
    if (
      definition.kind !== Kind.OBJECT_TYPE_DEFINITION &&
      definition.kind !== Kind.INTERFACE_TYPE_DEFINITION &&
      definition.kind !== Kind.SCALAR_TYPE_DEFINITION &&
      definition.kind !== Kind.ENUM_TYPE_DEFINITION
    ) {
      continue;
    }
    const typeRequirement = requirementOf(definition.directives ?? [], names);
    if (typeRequirement) types.set(definition.name.value, typeRequirement);
    if (
      definition.kind !== Kind.OBJECT_TYPE_DEFINITION &&
      definition.kind !== Kind.INTERFACE_TYPE_DEFINITION
    ) {
      continue;
    }
    for (const field of definition.fields ?? []) {
      const requirement = requirementOf(field.directives ?? [], names);
      if (requirement) fields.set(`${definition.name.value}.${field.name.value}`, requirement);
    }
  }
  return { fields, types };
}

function requirementOf(
  directives: readonly ConstDirectiveNode[],
  names: { authenticated: string | undefined; requiresScopes: string | undefined },
): AccessRequirement | undefined {
  let authenticated = false;
  const scopes: string[][][] = [];
  for (const directive of directives) {
    if (names.authenticated && directive.name.value === names.authenticated) authenticated = true;
    if (names.requiresScopes && directive.name.value === names.requiresScopes) {
      scopes.push(scopeAlternatives(argumentOf(directive, 'scopes')));
    }
  }
  return authenticated || scopes.length > 0 ? { authenticated, scopes } : undefined;
}

/**
 * `[["a", "b"], ["c"]]` as lists of strings. Anything malformed becomes an alternative no one can
 * meet: a requirement that cannot be read denies rather than allows.
 */
function scopeAlternatives(value: ConstValueNode | undefined): string[][] {
  if (value?.kind !== Kind.LIST) return [[UNREADABLE_SCOPE]];
  return value.values.map((alternative) => {
    const scopes = alternative.kind === Kind.LIST ? alternative.values : [alternative];
    return scopes.map((scope) => (scope.kind === Kind.STRING ? scope.value : UNREADABLE_SCOPE));
  });
}

/** No principal holds this (scopes are plain words): stands for a requirement that could not be read. */
const UNREADABLE_SCOPE = '\u0000unreadable';
