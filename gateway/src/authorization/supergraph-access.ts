import {
  Kind,
  parse,
  print,
  visit,
  type ConstDirectiveNode,
  type ConstValueNode,
  type DocumentNode,
} from 'graphql';

/**
 * What a field or a type demands of its caller, as the subgraphs declared it with federation's
 * `@authenticated` and `@requiresScopes` (kept in the supergraph by composition). `anyOf` lists
 * alternatives; each alternative is a set of scopes that must all be held.
 */
export interface AccessRequirement {
  authenticated: boolean;
  /** Every entry must be met (a field and its type may each require scopes); empty: none. */
  scopes: readonly (readonly (readonly string[])[])[];
}

/** The requirements of a supergraph: per field (`Type.field`) and per type (`Type`). */
export interface AccessRequirements {
  fields: ReadonlyMap<string, AccessRequirement>;
  types: ReadonlyMap<string, AccessRequirement>;
}

/** The security features the gateway enforces itself, by their spec URL and default name. */
const ENFORCED_FEATURES: Record<string, string> = {
  'https://specs.apollo.dev/authenticated/v0.1': 'authenticated',
  'https://specs.apollo.dev/requiresScopes/v0.1': 'requiresScopes',
};

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
      const url = linkUrlOf(node as ConstDirectiveNode);
      if (url === undefined || !(url in ENFORCED_FEATURES)) return undefined;
      return { ...node, arguments: node.arguments?.filter((argument) => argument.name.value !== 'for') };
    },
  });
  return print(document);
}

/** Reads the field and type requirements of a supergraph. */
export function accessRequirementsOf(sdl: string): AccessRequirements {
  const document = parse(sdl);
  const names = directiveNames(document);
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

/** The names the supergraph gives the two directives (a link may rename them with `as`). */
function directiveNames(document: DocumentNode): { authenticated: string; requiresScopes: string } {
  const names = { authenticated: 'authenticated', requiresScopes: 'requiresScopes' };
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.SCHEMA_DEFINITION && definition.kind !== Kind.SCHEMA_EXTENSION) continue;
    for (const directive of definition.directives ?? []) {
      if (directive.name.value !== 'link') continue;
      const feature = ENFORCED_FEATURES[linkUrlOf(directive) ?? ''];
      const alias = stringArgument(directive, 'as');
      if (feature && alias) names[feature as keyof typeof names] = alias;
    }
  }
  return names;
}

function requirementOf(
  directives: readonly ConstDirectiveNode[],
  names: { authenticated: string; requiresScopes: string },
): AccessRequirement | undefined {
  let authenticated = false;
  const scopes: string[][][] = [];
  for (const directive of directives) {
    if (directive.name.value === names.authenticated) authenticated = true;
    if (directive.name.value === names.requiresScopes) {
      const argument = directive.arguments?.find((a) => a.name.value === 'scopes');
      scopes.push(scopeAlternatives(argument?.value));
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

function linkUrlOf(directive: ConstDirectiveNode): string | undefined {
  return stringArgument(directive, 'url');
}

function stringArgument(directive: ConstDirectiveNode, name: string): string | undefined {
  const value = directive.arguments?.find((argument) => argument.name.value === name)?.value;
  return value?.kind === Kind.STRING ? value.value : undefined;
}
