import { Kind, type ConstDirectiveNode, type ConstValueNode, type DocumentNode } from 'graphql';

/**
 * The name a supergraph gives a directive of a linked feature (core schemas, `@link`): the
 * feature's own directive keeps the feature's name unless the link renames it (`as:`); any
 * other directive is `feature__directive` unless imported, as itself or under an alias.
 * Returns undefined when the supergraph does not link the feature.
 */
export function linkedDirectiveName(
  document: DocumentNode,
  featureUrl: string,
  directive: string,
): string | undefined {
  const specName = /\/([A-Za-z][A-Za-z0-9]*)\/v\d+\.\d+$/.exec(featureUrl)?.[1];
  if (!specName) throw new Error(`Not a feature URL: ${featureUrl}`);
  for (const link of linksOf(document)) {
    if (argumentOf(link, 'url')?.kind !== Kind.STRING) continue;
    if ((argumentOf(link, 'url') as { value: string }).value !== featureUrl) continue;
    const alias = stringOf(argumentOf(link, 'as'));
    const prefix = alias ?? specName;
    if (directive === specName) return prefix;
    const imports = argumentOf(link, 'import');
    for (const entry of imports?.kind === Kind.LIST ? imports.values : []) {
      if (stringOf(entry) === `@${directive}`) return directive;
      if (entry.kind === Kind.OBJECT) {
        const name = stringOf(entry.fields.find((field) => field.name.value === 'name')?.value);
        const as = stringOf(entry.fields.find((field) => field.name.value === 'as')?.value);
        if (name === `@${directive}`) return (as ?? name).replace(/^@/, '');
      }
    }
    return `${prefix}__${directive}`;
  }
  return undefined;
}

/** The `@link` directives on the schema definition and its extensions. */
export function linksOf(document: DocumentNode): ConstDirectiveNode[] {
  const links: ConstDirectiveNode[] = [];
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.SCHEMA_DEFINITION && definition.kind !== Kind.SCHEMA_EXTENSION) continue;
    for (const directive of definition.directives ?? [])
      if (directive.name.value === 'link') links.push(directive);
  }
  return links;
}

export function argumentOf(directive: ConstDirectiveNode, name: string): ConstValueNode | undefined {
  return directive.arguments?.find((argument) => argument.name.value === name)?.value;
}

export function stringOf(value: ConstValueNode | undefined): string | undefined {
  return value?.kind === Kind.STRING ? value.value : undefined;
}
