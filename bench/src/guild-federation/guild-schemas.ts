import { readFileSync } from 'node:fs';
import { parse, type DocumentNode } from 'graphql';

/** The four subgraphs of The Guild's federation gateways benchmark, in the order they are composed. */
export const GUILD_SUBGRAPHS = ['accounts', 'inventory', 'products', 'reviews'] as const;
export type GuildSubgraph = (typeof GUILD_SUBGRAPHS)[number];

/** A subgraph's schema, as its SDL file declares it (federation v1 directives). */
export function guildSchema(name: GuildSubgraph): DocumentNode {
  // From dist/ or src/ alike: the SDL files live beside the sources only.
  const file = new URL(`../../src/guild-federation/sdl/${name}.graphql`, import.meta.url);
  return parse(readFileSync(file, 'utf8'));
}
