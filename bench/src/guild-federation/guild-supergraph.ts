import { composeServices } from '@apollo/composition';
import { Kind, visit, type ConstDirectiveNode, type DocumentNode } from 'graphql';
import { GUILD_SUBGRAPHS, guildSchema, type GuildSubgraph } from './guild-schemas.js';

/** The root fields that need a signed-in caller in the supergraph our gateway serves. */
export const AUTHENTICATED_FIELDS = ['Query.me', 'Query.user', 'Query.users', 'Query.topProducts'];

/** The first version of federation with `@authenticated`. */
const FEDERATION_2_5 = 'https://specs.apollo.dev/federation/v2.5';

/**
 * The supergraph of the four subgraphs at `baseUrl` (`${baseUrl}/accounts`, …), composed by
 * Apollo's composition as the reference's is. With `authenticated`, the subgraphs that own the
 * root fields declare them `@authenticated` (federation 2's, through `@link`), so that a gateway
 * enforcing it has that work to do; Apollo's gateway alone refuses such a supergraph (a SECURITY
 * feature it does not implement).
 */
export function composeGuildSupergraph(baseUrl: string, options: { authenticated: boolean }): string {
  const result = composeServices(
    GUILD_SUBGRAPHS.map((name) => ({
      name,
      url: `${baseUrl}/${name}`,
      typeDefs: options.authenticated ? withAuthenticated(name) : guildSchema(name),
    })),
  );
  if (result.errors) {
    throw new Error(`Composition failed:\n${result.errors.map((e) => `  - ${e.message}`).join('\n')}`);
  }
  return result.supergraphSdl;
}

/**
 * A subgraph's schema linking federation 2.5 with `@authenticated` imported too, its root fields
 * of AUTHENTICATED_FIELDS marked with it.
 */
function withAuthenticated(name: GuildSubgraph): DocumentNode {
  const authenticated: ConstDirectiveNode = {
    kind: Kind.DIRECTIVE,
    name: { kind: Kind.NAME, value: 'authenticated' },
  };
  let typeName = '';
  return visit(guildSchema(name), {
    ObjectTypeDefinition: { enter: (node) => void (typeName = node.name.value) },
    ObjectTypeExtension: { enter: (node) => void (typeName = node.name.value) },
    FieldDefinition: (node) =>
      AUTHENTICATED_FIELDS.includes(`${typeName}.${node.name.value}`)
        ? { ...node, directives: [...(node.directives ?? []), authenticated] }
        : undefined,
    Directive: (node) =>
      node.name.value !== 'link'
        ? undefined
        : {
            ...node,
            arguments: node.arguments?.map((argument) => {
              if (argument.name.value === 'url') {
                return { ...argument, value: { kind: Kind.STRING, value: FEDERATION_2_5 } };
              }
              if (argument.name.value !== 'import' || argument.value.kind !== Kind.LIST) return argument;
              const imported = [
                ...argument.value.values,
                { kind: Kind.STRING, value: '@authenticated' } as const,
              ];
              return { ...argument, value: { ...argument.value, values: imported } };
            }),
          },
  });
}
